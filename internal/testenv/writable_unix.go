//go:build !windows

package testenv

import (
	"os"
	"testing"
)

// WritableByOthers makes path writable by everyone (mode 0666, or 0777 for
// a directory), for tests of the kit's refusal of such files.
func WritableByOthers(t testing.TB, path string) {
	t.Helper()
	mode := os.FileMode(0o666)
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		mode = 0o777
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// WritableByOthersMessage is what the kit says of such a file on this OS.
const WritableByOthersMessage = "writable by group or others"
