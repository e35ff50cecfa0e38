// Package testenv gives tests the real environment they need: root, named
// network namespaces with veth pairs, and a rule that a root test never
// silently skips in CI.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run in CI (CI=true), where a test that
// would skip for want of root fails instead.
func InCI() bool { return os.Getenv("CI") == "true" }

// RequireRoot skips the test when not running as root, and fails it in CI.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		SkipOrFail(t, "needs root (network namespaces, addresses): run the tests as root")
	}
}

// RequireTools skips the test when a program is not on PATH, and fails it
// in CI, where scripts/install-test-deps.sh installs every one.
func RequireTools(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			SkipOrFail(t, "%s is missing: run scripts/install-test-deps.sh", n)
		}
	}
}

// SkipOrFail skips the test where this host cannot run it, and fails it in
// CI (CI=true), where a skipped test would hide a missing check.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatal(msg + " (CI=true: a test that cannot run here fails)")
	}
	t.Skip(msg)
}
