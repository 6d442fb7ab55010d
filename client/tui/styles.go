package tui

import (
	"hash/fnv"
	"image/color"

	"charm.land/lipgloss/v2"
)

// The palette. Colours are chosen to read on dark and light terminals.
var (
	colAccent  = lipgloss.Color("#7aa2f7") // rooms, focus, the status bar
	colPrivate = lipgloss.Color("#c678dd") // private conversations
	colMe      = lipgloss.Color("#98c379") // your own name
	colDim     = lipgloss.Color("#7f848e")
	colError   = lipgloss.Color("#e06c75")
	colWarn    = lipgloss.Color("#e5c07b")
	colOK      = lipgloss.Color("#98c379")
	colMention = lipgloss.Color("#e5c07b")
	colBarBg   = lipgloss.Color("#2c3347")
	colBarFg   = lipgloss.Color("#dcdfe4")

	nickColors = []color.Color{
		lipgloss.Color("#61afef"), lipgloss.Color("#d19a66"), lipgloss.Color("#56b6c2"),
		lipgloss.Color("#e06c75"), lipgloss.Color("#c678dd"), lipgloss.Color("#e5c07b"),
		lipgloss.Color("#8ab4f8"), lipgloss.Color("#f28b82"), lipgloss.Color("#fdd663"),
		lipgloss.Color("#81c995"), lipgloss.Color("#ff8bcb"), lipgloss.Color("#78d9ec"),
	}
)

var (
	stDim       = lipgloss.NewStyle().Foreground(colDim)
	stBold      = lipgloss.NewStyle().Bold(true)
	stError     = lipgloss.NewStyle().Foreground(colError)
	stWarn      = lipgloss.NewStyle().Foreground(colWarn)
	stOK        = lipgloss.NewStyle().Foreground(colOK)
	stMe        = lipgloss.NewStyle().Foreground(colMe).Bold(true)
	stPrivate   = lipgloss.NewStyle().Foreground(colPrivate)
	stRoom      = lipgloss.NewStyle().Foreground(colAccent)
	stMention   = lipgloss.NewStyle().Foreground(lipgloss.Color("#1e2127")).Background(colMention).Bold(true)
	stBadge     = lipgloss.NewStyle().Foreground(lipgloss.Color("#1e2127")).Background(colAccent).Bold(true)
	stSelected  = lipgloss.NewStyle().Reverse(true)
	stBar       = lipgloss.NewStyle().Foreground(colBarFg).Background(colBarBg)
	stBarTitle  = lipgloss.NewStyle().Foreground(lipgloss.Color("#1e2127")).Background(colAccent).Bold(true)
	stRecalled  = lipgloss.NewStyle().Foreground(colDim).Italic(true)
	stFile      = lipgloss.NewStyle().Foreground(lipgloss.Color("#56b6c2")).Underline(true)
	stKey       = lipgloss.NewStyle().Foreground(colAccent).Bold(true)
	stOwnerMark = lipgloss.NewStyle().Foreground(colWarn)
)

// nickColor gives each name a stable colour; your own name has its own.
func nickColor(key string) color.Color {
	h := fnv.New32a()
	h.Write([]byte(key))
	return nickColors[h.Sum32()%uint32(len(nickColors))]
}
