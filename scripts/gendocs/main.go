// Command gendocs rewrites what is generated from the parameter table in
// pkg/config (make docs): the parameter reference in README.md and the
// meta-data in the OCF agent kit/ocf/ilbvip.
package main

import (
	"fmt"
	"os"

	"github.com/ilbvip/ilbvip/pkg/config"
)

func main() {
	for _, f := range []struct {
		path   string
		update func(string) (string, error)
	}{
		{"README.md", config.UpdateReadme},
		{"kit/ocf/ilbvip", config.UpdateOCFAgent},
	} {
		if err := rewrite(f.path, f.update); err != nil {
			fmt.Fprintln(os.Stderr, "gendocs:", err)
			os.Exit(1)
		}
	}
}

// rewrite replaces path's content with update's result, keeping its mode.
func rewrite(path string, update func(string) (string, error)) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := update(string(b))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if out == string(b) {
		return nil
	}
	return os.WriteFile(path, []byte(out), fi.Mode().Perm())
}
