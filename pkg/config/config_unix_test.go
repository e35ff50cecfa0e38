//go:build !windows

package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ilbvip/ilbvip/internal/testenv"
	"github.com/ilbvip/ilbvip/pkg/ocf"
)

// Mode bits are Unix's: on Windows the directory's ACL protects the file
// and Load does not look at them.
func TestWritableConfigRefusedForRoot(t *testing.T) {
	f := filepath.Join(testenv.TempDir(t), "t.yaml")
	if err := os.WriteFile(f, []byte("port: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(f, 0o664); err != nil {
		t.Fatal(err)
	}
	src := Sources{Flags: map[string]string{"tag": "t"}, ConfigFile: f, Env: noEnv}
	src.Euid = 0
	_, err := Load(src)
	var ce *Error
	if err == nil || !strings.Contains(err.Error(), "chmod go-w") || !errors.As(err, &ce) || ce.Code != ocf.ErrInstalled {
		t.Fatalf("root: error %v, want chmod go-w advice and exit 5 (this node's file; 6 stops the resource everywhere)", err)
	}
	src.Euid = 1000
	if _, err := Load(src); err != nil {
		t.Fatalf("non-root: %v", err)
	}
}
