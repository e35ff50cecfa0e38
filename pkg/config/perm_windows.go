package config

import (
	"io/fs"
	"strings"

	"github.com/ilbvip/ilbvip/pkg/statedir"
)

// writableByOthers says how a config file could be rewritten by someone
// other than SYSTEM, Administrators or the user running the action (its
// owner or DACL: statedir.CheckFile), or "". The kit's actions run
// elevated, so every file they read is judged; a fresh file in
// ProgramData\ilbvip inherits Users' right to create and append there.
func writableByOthers(path string, _ fs.FileInfo, _ int) string {
	err := statedir.CheckFile("config file", path)
	if err == nil {
		return ""
	}
	// Error wraps the path as its origin: keep the message after it.
	return strings.TrimLeft(strings.TrimPrefix(err.Error(), "config file "+path), ": ")
}
