package lifekeeper

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/ilbvip/ilbvip/internal/testenv"
)

// writeInsList installs ins_list.exe in root\bin, a copy of this test
// binary acting as mode (TestMain), and returns its path.
func writeInsList(t *testing.T, root, mode string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, InsList+".exe")
	if err := copyFile(self, p); err != nil {
		t.Fatal(err)
	}
	t.Setenv(fakeInsListEnv, mode)
	return p
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// A file named exactly ins_list is no program Windows can start: not used.
func TestExtensionlessInsListIgnored(t *testing.T) {
	root := testenv.TempDir(t)
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, InsList), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := func(k string) (string, bool) { return root, k == "LKROOT" }
	if p, ok := Enabled(env); ok {
		t.Errorf("Enabled = %s", p)
	}
	want := writeInsList(t, root, fakeEmpty)
	if p, ok := Enabled(env); !ok || p != want {
		t.Errorf("Enabled = %q, %t; want %s", p, ok, want)
	}
}
