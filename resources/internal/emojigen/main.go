// Command emojigen writes the web client's emoji table (see emojitable).
// resources.go runs it through go generate.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/parley-chat/parley/resources/internal/emojitable"
)

func main() {
	out := flag.String("out", "web/emoji.json", "write the table to this `file`")
	flag.Parse()
	b, err := emojitable.JSON()
	if err == nil {
		err = os.WriteFile(*out, b, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "emojigen:", err)
		os.Exit(1)
	}
}
