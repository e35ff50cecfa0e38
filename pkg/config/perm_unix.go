//go:build !windows

package config

import (
	"fmt"
	"io/fs"

	"github.com/ilbvip/ilbvip/pkg/ocf"
)

// writableByOthers refuses a config file that root reads and group or
// others may write; a user's own file is the user's business. 5, not 6:
// this node's file, not the configuration (6 would stop the resource
// everywhere).
func writableByOthers(path string, fi fs.FileInfo, euid int) error {
	if euid != 0 || fi.Mode().Perm()&0o022 == 0 {
		return nil
	}
	return &Error{Origin: path, Msg: fmt.Sprintf("is writable by group or others (mode %04o): chmod go-w %s", fi.Mode().Perm(), path), Code: ocf.ErrInstalled}
}
