package tui

import (
	"context"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
)

// Login is what the login form asks for.
type Login struct {
	Server   string
	Name     string
	Password string
}

// AppConfig configures the whole program: the login form, then the chat
// screen.
type AppConfig struct {
	// Login fills the form.
	Login Login
	// AutoConnect logs in with Login at once, without showing the form
	// unless that fails: there is a password, or a saved session.
	AutoConnect bool
	// Notice is shown in the form, for instance why it is shown.
	Notice string
	// Connect logs in and returns the chat screen's configuration. It
	// runs in a command, so the form stays responsive.
	Connect func(ctx context.Context, l Login) (Config, error)
	Context context.Context
}

// App is the program: a login form until a session is up, then the chat
// screen.
type App struct {
	cfg        AppConfig
	form       loginForm
	chat       *Model
	connecting bool
	width      int
	height     int
}

type connectedMsg struct {
	cfg Config
	err error
}

// NewApp returns the program's model.
func NewApp(cfg AppConfig) *App {
	if cfg.Context == nil {
		cfg.Context = context.Background()
	}
	a := &App{cfg: cfg, width: 80, height: 24}
	a.form = newLoginForm(cfg.Login)
	a.form.notice = cfg.Notice
	return a
}

// Chat is the chat screen once logged in, or nil.
func (a *App) Chat() *Model { return a.chat }

// Run runs the program on the terminal until the person quits. It returns
// the chat screen (nil if they never logged in).
func Run(ctx context.Context, cfg AppConfig) (*Model, error) {
	cfg.Context = ctx
	a := NewApp(cfg)
	_, err := tea.NewProgram(a, tea.WithContext(ctx)).Run()
	return a.chat, err
}

// Init connects at once if it can.
func (a *App) Init() tea.Cmd {
	if a.cfg.AutoConnect {
		return a.connect(a.cfg.Login)
	}
	return nil
}

func (a *App) connect(l Login) tea.Cmd {
	a.connecting = true
	a.form.err = ""
	connect, ctx := a.cfg.Connect, a.cfg.Context
	return func() tea.Msg {
		cfg, err := connect(ctx, l)
		return connectedMsg{cfg: cfg, err: err}
	}
}

// Update passes messages to the form or the chat screen.
func (a *App) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if ws, ok := msg.(tea.WindowSizeMsg); ok {
		a.width, a.height = ws.Width, ws.Height
	}
	if a.chat != nil {
		_, cmd := a.chat.Update(msg)
		return a, cmd
	}
	switch msg := msg.(type) {
	case connectedMsg:
		a.connecting = false
		if msg.err != nil {
			a.form.err = errText(msg.err)
			a.form.focusFirstEmpty()
			if a.form.fields[2].Empty() {
				a.form.focus = 2
			}
			return a, nil
		}
		if msg.cfg.Context == nil {
			msg.cfg.Context = a.cfg.Context
		}
		a.chat = New(msg.cfg)
		a.chat.Update(tea.WindowSizeMsg{Width: a.width, Height: a.height})
		return a, a.chat.Init()
	case tea.KeyPressMsg:
		switch msg.String() {
		case "ctrl+c", "esc":
			return a, tea.Quit
		}
		if a.connecting {
			return a, nil
		}
		if l, ok := a.form.key(msg); ok {
			return a, a.connect(l)
		}
	case tea.PasteMsg:
		a.form.fields[a.form.focus].Update(msg)
	}
	return a, nil
}

// View draws the form or the chat screen.
func (a *App) View() tea.View {
	if a.chat != nil {
		return a.chat.View()
	}
	content, x, y := a.form.view(a.width, a.height, a.connecting)
	v := tea.NewView(content)
	v.AltScreen = true
	v.WindowTitle = "Parley · log in"
	if !a.connecting {
		v.Cursor = tea.NewCursor(x, y)
	}
	return v
}

// loginForm asks for the server, a name and a password.
type loginForm struct {
	fields [3]editor
	focus  int
	err    string
	notice string
}

var fieldLabels = [3]string{"Server", "Name", "Password"}

func newLoginForm(l Login) loginForm {
	var f loginForm
	f.fields[0].SetValue(l.Server)
	f.fields[1].SetValue(l.Name)
	f.fields[2].SetValue(l.Password)
	f.fields[2].mask = "•"
	for i := range f.fields {
		f.fields[i].limit = 1024
	}
	f.focusFirstEmpty()
	return f
}

func (f *loginForm) focusFirstEmpty() {
	for i := range f.fields {
		if f.fields[i].Empty() {
			f.focus = i
			return
		}
	}
	f.focus = len(f.fields) - 1
}

// key handles a key; it returns the login when the form is submitted.
func (f *loginForm) key(k tea.KeyPressMsg) (Login, bool) {
	switch k.String() {
	case "tab", "down":
		f.focus = (f.focus + 1) % len(f.fields)
	case "shift+tab", "up":
		f.focus = (f.focus + len(f.fields) - 1) % len(f.fields)
	case "enter":
		if f.fields[f.focus].Empty() {
			f.err = strings.ToLower(fieldLabels[f.focus]) + " is needed"
			return Login{}, false
		}
		for i := range f.fields {
			if f.fields[i].Empty() {
				f.focus = i
				f.err = ""
				return Login{}, false
			}
		}
		return Login{
			Server:   strings.TrimSpace(f.fields[0].Value()),
			Name:     strings.TrimSpace(f.fields[1].Value()),
			Password: f.fields[2].Value(),
		}, true
	default:
		f.fields[f.focus].Update(k)
	}
	return Login{}, false
}

// view draws the form in the middle of the screen and says where the
// cursor goes.
func (f *loginForm) view(w, h int, connecting bool) (string, int, int) {
	bw := min(max(w-4, 30), 56)
	inner := bw - 2
	const labelW = 11
	fieldW := max(4, inner-labelW-4)
	var body []string
	body = append(body, "", " "+stBold.Render("Welcome to Parley"), "")
	if f.notice != "" {
		for _, l := range wrap(f.notice, inner-2) {
			body = append(body, " "+stWarn.Render(l))
		}
		body = append(body, "")
	}
	cursorRow, cursorCol := 0, 0
	for i := range f.fields {
		f.fields[i].SetWidth(fieldW)
		text, cur := f.fields[i].View()
		label := fit(fieldLabels[i], labelW)
		if i == f.focus {
			label = stKey.Render(label)
			cursorRow, cursorCol = len(body), 1+labelW+1+cur
		} else {
			label = stDim.Render(label)
		}
		body = append(body, " "+label+" "+lipgloss.NewStyle().Underline(true).Render(text))
	}
	body = append(body, "")
	for _, l := range wrap("The first login of a name registers it with this password. The server and name are remembered; the password never is.", inner-2) {
		body = append(body, " "+stDim.Render(l))
	}
	body = append(body, "")
	switch {
	case connecting:
		body = append(body, " "+stWarn.Render("Connecting to "+clean(f.fields[0].Value(), false)+"…"))
	case f.err != "":
		for _, l := range wrap(f.err, inner-2) {
			body = append(body, " "+stError.Render(l))
		}
	default:
		body = append(body, " "+stKey.Render("Enter")+stDim.Render(" next / log in · ")+stKey.Render("Tab")+stDim.Render(" move · ")+stKey.Render("Esc")+stDim.Render(" quit"))
	}
	body = append(body, "")
	bh := len(body) + 2
	lines := box(stBarTitle.Render(" Parley "), "", body, bw, bh, colAccent, true)
	x0, y0 := max(0, (w-bw)/2), max(0, (h-bh)/2)
	var out []string
	for i := 0; i < y0; i++ {
		out = append(out, "")
	}
	pad := strings.Repeat(" ", x0)
	for _, l := range lines {
		out = append(out, pad+l)
	}
	return strings.Join(out, "\n"), x0 + 1 + cursorCol, y0 + 1 + cursorRow
}
