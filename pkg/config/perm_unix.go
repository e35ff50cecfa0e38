//go:build !windows

package config

import (
	"fmt"
	"io/fs"
)

// writableByOthers says how a config file that root reads could be
// rewritten by someone else (group or others may write it), or "". Only
// root's actions refuse it: a user's own file is the user's business.
func writableByOthers(path string, fi fs.FileInfo, euid int) string {
	if euid != 0 || fi.Mode().Perm()&0o022 == 0 {
		return ""
	}
	return fmt.Sprintf("is writable by group or others (mode %04o): chmod go-w %s", fi.Mode().Perm(), path)
}
