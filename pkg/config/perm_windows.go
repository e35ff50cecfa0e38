package config

import (
	"io/fs"

	"github.com/ilbvip/ilbvip/pkg/ocf"
	"github.com/ilbvip/ilbvip/pkg/statedir"
)

// writableByOthers refuses a config file that someone other than SYSTEM,
// Administrators or the user running the action could rewrite (its owner
// or DACL: statedir.CheckFile, whose message names the file and ends in the
// icacls fix). The kit's actions run elevated, so every file they read is
// judged; a fresh file in ProgramData\ilbvip inherits Users' right to
// create and append there. 5, as on Linux: this node's file.
func writableByOthers(path string, _ fs.FileInfo, _ int) error {
	if err := statedir.CheckFile("config file", path); err != nil {
		return &Error{Msg: err.Error(), Code: ocf.ErrInstalled}
	}
	return nil
}
