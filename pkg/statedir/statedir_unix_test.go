//go:build !windows

package statedir

import (
	"os"
	"testing"
)

// writableFix is in the refusal of a directory others may write.
const writableFix = "chmod 700"

// checkPrivate: Ensure made dir mode 0700.
func checkPrivate(t *testing.T, dir string) {
	t.Helper()
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("mode %v, %v", fi.Mode(), err)
	}
}

// makeWritable lets everyone write dir.
func makeWritable(t *testing.T, dir string) {
	t.Helper()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
}
