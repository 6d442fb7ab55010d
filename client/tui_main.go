package main

import (
	"context"
	"io"
	"os"
)

// runTUI runs the full-screen terminal interface.
func runTUI(ctx context.Context, o options, stderr io.Writer) int {
	return runLines(ctx, o, os.Stdin, os.Stdout, stderr)
}
