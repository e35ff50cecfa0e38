// Command gendocs rewrites the parameter reference in README.md from the
// parameter table in pkg/config (make docs).
package main

import (
	"fmt"
	"os"

	"github.com/ilbvip/ilbvip/pkg/config"
)

func main() {
	b, err := os.ReadFile("README.md")
	if err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
	out, err := config.UpdateReadme(string(b))
	if err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
	if err := os.WriteFile("README.md", []byte(out), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}
