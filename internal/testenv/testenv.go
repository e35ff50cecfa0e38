// Package testenv gives tests the real environment they need: root, named
// network namespaces with veth pairs, and a rule that a root test never
// silently skips in CI.
package testenv

import (
	"os"
	"testing"
)

// InCI reports whether the tests run in CI (CI=true), where a test that
// would skip for want of root fails instead.
func InCI() bool { return os.Getenv("CI") == "true" }

// RequireRoot skips the test when not running as root, and fails it in CI.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if InCI() {
		t.Fatal("this test needs root and CI=true: run the tests as root")
	}
	t.Skip("needs root (network namespaces, addresses)")
}
