package protocol_test

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/constant"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/parley-chat/parley/shared/protocol"
)

// specPath is the protocol specification, relative to this package.
const specPath = "../PROTOCOL.md"

// exampleFence opens a block of example frames in the specification: one
// frame per line, exactly as it travels.
const exampleFence = "```json frame"

// spec is the specification split into what the tests check.
type spec struct {
	examples []example
	// sections maps a "## " heading to its lines.
	sections map[string][]string
	order    []string // headings in document order
}

type example struct {
	line    int // 1-based line number in the document
	section string
	text    string
}

func loadSpec(t testing.TB) *spec {
	t.Helper()
	b, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatalf("read the specification: %v", err)
	}
	s := &spec{sections: map[string][]string{}}
	section := ""
	inExample, inCode := false, false
	for i, line := range strings.Split(string(b), "\n") {
		switch {
		case inExample && line == "```":
			inExample = false
		case inExample:
			if strings.TrimSpace(line) != "" {
				s.examples = append(s.examples, example{line: i + 1, section: section, text: line})
			}
		case inCode && strings.HasPrefix(line, "```"):
			inCode = false
		case inCode:
		case line == exampleFence:
			inExample = true
		case strings.HasPrefix(line, "```"):
			inCode = true
		case strings.HasPrefix(line, "## "):
			section = strings.TrimPrefix(line, "## ")
			s.order = append(s.order, section)
		}
		if !strings.HasPrefix(line, "## ") {
			s.sections[section] = append(s.sections[section], line)
		}
	}
	if inExample || inCode {
		t.Fatalf("%s: a code block is not closed", specPath)
	}
	if len(s.examples) == 0 {
		t.Fatalf("%s has no %q blocks", specPath, exampleFence)
	}
	return s
}

// section returns the lines of the "## " section with the given heading.
func (s *spec) section(t *testing.T, heading string) []string {
	t.Helper()
	lines, ok := s.sections[heading]
	if !ok {
		t.Fatalf("%s has no section %q", specPath, heading)
	}
	return lines
}

// table returns the rows of the first Markdown table in lines, without
// the header and the separator row, each as its trimmed cells.
func table(lines []string) [][]string {
	var rows [][]string
	seen := 0
	for _, l := range lines {
		if !strings.HasPrefix(l, "|") {
			if seen > 0 {
				break
			}
			continue
		}
		seen++
		if seen <= 2 { // header and separator
			continue
		}
		cells := strings.Split(strings.Trim(l, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		rows = append(rows, cells)
	}
	return rows
}

var backticked = regexp.MustCompile("`([^`]+)`")

// unquote returns the text between the backticks of a cell like "`x`",
// or "" if the cell is not one backticked word.
func unquote(cell string) string {
	m := backticked.FindStringSubmatch(cell)
	if m == nil || m[0] != cell {
		return ""
	}
	return m[1]
}

// stringConsts returns the string constants of a file of this package whose
// names start with prefix, name to value.
func stringConsts(t *testing.T, file, prefix string) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, sp := range g.Specs {
			vs := sp.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if !strings.HasPrefix(n.Name, prefix) || i >= len(vs.Values) {
					continue
				}
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Fatalf("%s: %s is not a string literal", file, n.Name)
				}
				v, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				out[n.Name] = v
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s defines no constants named %s…", file, prefix)
	}
	return out
}

// intConsts type-checks limits.go on its own and returns its integer
// constants, name to value.
func intConsts(t *testing.T, file string) map[string]int64 {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := new(types.Config).Check("protocol", fset, []*ast.File{f}, nil)
	if err != nil {
		t.Fatalf("type-check %s on its own: %v", file, err)
	}
	out := map[string]int64{}
	for _, name := range pkg.Scope().Names() {
		c, ok := pkg.Scope().Lookup(name).(*types.Const)
		if !ok {
			continue
		}
		v, exact := constant.Int64Val(c.Val())
		if !exact {
			t.Fatalf("%s: %s is not an integer", file, name)
		}
		out[name] = v
	}
	return out
}

func valuesOf(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

// decodeGeneric parses JSON keeping numbers exact.
func decodeGeneric(t *testing.T, b []byte) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return m
}

// diffJSON describes how two generic JSON values differ, or returns "".
func diffJSON(path string, want, got any) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return path + ": object became " + reflect.TypeOf(got).String()
		}
		var diffs []string
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				diffs = append(diffs, path+"."+k+" is dropped when re-encoded (unknown member, or a zero value that is left out)")
				continue
			}
			if d := diffJSON(path+"."+k, wv, gv); d != "" {
				diffs = append(diffs, d)
			}
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				diffs = append(diffs, path+"."+k+" appears when re-encoded but is not in the example")
			}
		}
		slices.Sort(diffs)
		return strings.Join(diffs, "; ")
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return path + ": array changed"
		}
		var diffs []string
		for i := range w {
			if d := diffJSON(path+"["+strconv.Itoa(i)+"]", w[i], g[i]); d != "" {
				diffs = append(diffs, d)
			}
		}
		return strings.Join(diffs, "; ")
	default:
		if !reflect.DeepEqual(want, got) {
			return path + ": " + jsonString(want) + " became " + jsonString(got)
		}
		return ""
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestSpecExamples decodes every example frame in PROTOCOL.md and checks
// that it re-encodes to the same members with the same values.
func TestSpecExamples(t *testing.T) {
	s := loadSpec(t)
	codes := stringConsts(t, "errors.go", "Code")
	types := stringConsts(t, "frame.go", "Type")
	for _, ex := range s.examples {
		f, err := protocol.Decode([]byte(ex.text))
		if err != nil {
			t.Errorf("%s:%d: %v\n\t%s", specPath, ex.line, err, ex.text)
			continue
		}
		if !slices.Contains(valuesOf(types), f.Type) {
			t.Errorf("%s:%d: frame type %q is not defined in frame.go", specPath, ex.line, f.Type)
		}
		if f.Code != "" && !slices.Contains(valuesOf(codes), f.Code) {
			t.Errorf("%s:%d: error code %q is not defined in errors.go", specPath, ex.line, f.Code)
		}
		if len(ex.text) > protocol.DefaultMaxFrame {
			t.Errorf("%s:%d: example is larger than a frame may be", specPath, ex.line)
		}
		enc := protocol.Encode(f)
		want := decodeGeneric(t, []byte(ex.text))
		got := decodeGeneric(t, enc)
		if d := diffJSON(f.Type, want, got); d != "" {
			t.Errorf("%s:%d: the example does not survive decoding and encoding: %s\n\texample: %s\n\tencoded: %s",
				specPath, ex.line, d, ex.text, bytes.TrimSpace(enc))
		}
		switch {
		case f.Type == protocol.TypeOK && f.Re == 0:
			t.Errorf("%s:%d: an ok reply without re", specPath, ex.line)
		case f.Type == protocol.TypeError && f.Code == "":
			t.Errorf("%s:%d: an error without a code", specPath, ex.line)
		case f.Type == protocol.TypeBye && f.Code == "":
			t.Errorf("%s:%d: a bye without a code", specPath, ex.line)
		case protocol.IsRequest(f.Type) && f.Type != protocol.TypeRecall && f.Type != protocol.TypePing &&
			f.Type != protocol.TypeTopic && f.Type != protocol.TypeNick && f.Type != protocol.TypeMode && f.ID == 0: // these are events too
			t.Errorf("%s:%d: a %s request without an id", specPath, ex.line, f.Type)
		}
	}
}

// TestSpecCoversFrameTypes checks that every frame type has an example and
// that the requests documented are exactly the types IsRequest accepts.
func TestSpecCoversFrameTypes(t *testing.T) {
	s := loadSpec(t)
	types := stringConsts(t, "frame.go", "Type")
	have := map[string]bool{}
	for _, ex := range s.examples {
		if f, err := protocol.Decode([]byte(ex.text)); err == nil {
			have[f.Type] = true
		}
	}
	for name, typ := range types {
		if !have[typ] {
			t.Errorf("%s has no example of %s (%q)", specPath, name, typ)
		}
	}

	// Every message kind, presence status and member action is shown.
	values := map[string]bool{}
	for _, ex := range s.examples {
		if f, err := protocol.Decode([]byte(ex.text)); err == nil {
			values["Kind"+f.Kind] = true
			values["Status"+f.Status] = true
			values["Action"+f.Action] = true
		}
	}
	for _, prefix := range []string{"Kind", "Status", "Action"} {
		for name, v := range stringConsts(t, "frame.go", prefix) {
			if v != "" && !values[prefix+v] {
				t.Errorf("%s has no example with %s (%q)", specPath, name, v)
			}
		}
	}

	// Each request has its own "### `type`" heading under "## Requests",
	// except login, which has a section of its own.
	documented := map[string]bool{}
	s.section(t, "Login")
	documented[protocol.TypeLogin] = true
	for _, l := range s.section(t, "Requests") {
		if !strings.HasPrefix(l, "### ") {
			continue
		}
		for _, m := range backticked.FindAllStringSubmatch(l, -1) {
			if !protocol.IsRequest(m[1]) {
				t.Errorf("%s documents %q as a request, but IsRequest says it is not one", specPath, m[1])
			}
			documented[m[1]] = true
		}
	}
	for _, typ := range types {
		if protocol.IsRequest(typ) && !documented[typ] {
			t.Errorf("%s: request %q has no heading under Requests", specPath, typ)
		}
	}
	// Event headings name frame types.
	for _, l := range s.section(t, "Events") {
		if !strings.HasPrefix(l, "### ") {
			continue
		}
		for _, m := range backticked.FindAllStringSubmatch(l, -1) {
			if !slices.Contains(valuesOf(types), m[1]) {
				t.Errorf("%s: event heading %q names no frame type", specPath, l)
			}
		}
	}
}

// TestSpecErrorCodes checks that the error code table lists exactly the
// codes errors.go defines, and that the close reasons table lists exactly
// the codes marked as sent in bye.
func TestSpecErrorCodes(t *testing.T) {
	s := loadSpec(t)
	consts := stringConsts(t, "errors.go", "Code")
	defined := map[string]string{} // value → constant name
	for name, v := range consts {
		if other, dup := defined[v]; dup {
			t.Errorf("%s and %s share the code %q", name, other, v)
		}
		defined[v] = name
	}
	rows := table(s.section(t, "Error codes"))
	documented := map[string]bool{}
	byeCodes := map[string]bool{}
	for _, row := range rows {
		if len(row) != 3 {
			t.Errorf("error code row %q does not have 3 cells", row)
			continue
		}
		code := unquote(row[0])
		if code == "" {
			t.Errorf("error code row %q: the first cell is not a `code`", row)
			continue
		}
		if documented[code] {
			t.Errorf("error code %q is listed twice", code)
		}
		documented[code] = true
		if _, ok := defined[code]; !ok {
			t.Errorf("%s lists error code %q, which errors.go does not define", specPath, code)
		}
		switch row[1] {
		case "error":
		case "bye", "error, bye":
			byeCodes[code] = true
		default:
			t.Errorf("error code %q: the In column says %q; want error, bye, or both", code, row[1])
		}
		if row[2] == "" {
			t.Errorf("error code %q does not say when it is used", code)
		}
	}
	for v, name := range defined {
		if !documented[v] {
			t.Errorf("%s (%q) is missing from the error code table in %s", name, v, specPath)
		}
	}

	closing := map[string]bool{}
	for _, row := range table(s.section(t, "Closing a connection")) {
		for _, m := range backticked.FindAllStringSubmatch(row[0], -1) {
			closing[m[1]] = true
			if !byeCodes[m[1]] {
				t.Errorf("close reason %q is not marked as sent in bye in the error code table", m[1])
			}
		}
	}
	for c := range byeCodes {
		if !closing[c] {
			t.Errorf("bye code %q is missing from the table in Closing a connection", c)
		}
	}
}

// TestSpecLimits checks the limits table against limits.go, the Limits
// type, and the welcome example.
func TestSpecLimits(t *testing.T) {
	s := loadSpec(t)
	consts := intConsts(t, "limits.go")
	if consts["DefaultMaxFrame"] != protocol.DefaultMaxFrame || consts["MaxTextBytes"] != protocol.MaxTextBytes {
		t.Fatalf("limits.go does not hold the package's limits")
	}

	members := map[string]bool{}
	lt := reflect.TypeOf(protocol.Limits{})
	for i := range lt.NumField() {
		name, _, _ := strings.Cut(lt.Field(i).Tag.Get("json"), ",")
		members[name] = true
	}

	var welcome map[string]any
	for _, ex := range s.examples {
		m := decodeGeneric(t, []byte(ex.text))
		if m["type"] == protocol.TypeWelcome {
			welcome, _ = m["limits"].(map[string]any)
		}
	}
	if welcome == nil {
		t.Fatalf("%s has no welcome example with limits", specPath)
	}

	documentedMember := map[string]bool{}
	documentedConst := map[string]bool{}
	for _, row := range table(s.section(t, "Limits")) {
		if len(row) != 4 {
			t.Errorf("limits row %q does not have 4 cells", row)
			continue
		}
		member, constName := unquote(row[1]), unquote(row[3])
		if row[1] != "" && member == "" || row[3] != "" && constName == "" {
			t.Errorf("limits row %q: member and constant must be `quoted`", row)
			continue
		}
		def, err := strconv.ParseInt(row[2], 10, 64)
		if err != nil {
			t.Errorf("limits row %q: default %q is not an integer", row, row[2])
			continue
		}
		if constName != "" {
			documentedConst[constName] = true
			v, ok := consts[constName]
			switch {
			case !ok:
				t.Errorf("limits row %q names %s, which limits.go does not define", row, constName)
			case v != def:
				t.Errorf("%s documents %s as %d; limits.go says %d", specPath, constName, def, v)
			}
		}
		if member != "" {
			documentedMember[member] = true
			if !members[member] {
				t.Errorf("limits row %q: %q is not a member of Limits", row, member)
			}
			w, ok := welcome[member].(json.Number)
			if !ok || w.String() != strconv.FormatInt(def, 10) {
				t.Errorf("the welcome example has %s = %v; the limits table says %d", member, welcome[member], def)
			}
		}
	}
	for name := range consts {
		if !documentedConst[name] {
			t.Errorf("limit %s is missing from the limits table in %s", name, specPath)
		}
	}
	for m := range members {
		if !documentedMember[m] {
			t.Errorf("Limits member %q is missing from the limits table in %s", m, specPath)
		}
	}
}
