//go:build !windows

package lifekeeper

import (
	"os"
	"path/filepath"
	"testing"
)

// Shell scripts, as LifeKeeper for Linux's own commands are; the hung one
// leaves a child that holds its output.
var fakeScripts = map[string]string{
	fakeAnswer: "#!/bin/sh\n[ \"$1\" = -t ] && [ \"$3\" = -f: ] || { echo usage >&2; exit 2; }\necho \"node1:gen:app:$2:id1:12345 hello:ISP\"\n",
	fakeBroken: "#!/bin/sh\necho broken >&2\nexit 3\n",
	fakeEmpty:  "#!/bin/sh\n",
	fakeHung:   "#!/bin/sh\nsleep 60\n",
}

// writeInsList installs ins_list as mode in root/bin and returns its path.
func writeInsList(t *testing.T, root, mode string) string {
	t.Helper()
	p := filepath.Join(root, InsList)
	if err := os.WriteFile(p, []byte(fakeScripts[mode]), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}
