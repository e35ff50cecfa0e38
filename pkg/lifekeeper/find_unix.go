//go:build !windows

package lifekeeper

import "os"

// findInsList returns the file at p (a script, as LifeKeeper for Linux
// ships it), or p.exe.
func findInsList(p string) (string, bool) {
	for _, name := range []string{p, p + ".exe"} {
		if fi, err := os.Stat(name); err == nil && !fi.IsDir() {
			return name, true
		}
	}
	return "", false
}
