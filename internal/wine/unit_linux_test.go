package wine_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ilbvip/ilbvip/internal/testenv"
	"github.com/ilbvip/ilbvip/internal/wine"
)

// TestWindowsTests compiles every package's tests for Windows and runs each
// test binary under Wine, in its package directory, inside a namespace of
// its own: the Windows calls that Wine has (process identity, the stop
// event, files and locks, the listening-socket table, address and interface
// rows) run for real here. What Wine lacks is listed in README.md
// ("How it is tested").
func TestWindowsTests(t *testing.T) {
	testenv.RequireRoot(t)
	wine.Require(t)
	pkgs := windowsTestPackages(t)
	bin := t.TempDir()
	p := wine.New(t, testenv.NewNS(t))
	for _, pkg := range pkgs {
		t.Run(strings.TrimPrefix(pkg.path, "github.com/ilbvip/ilbvip/"), func(t *testing.T) {
			exe := filepath.Join(bin, strings.ReplaceAll(pkg.path, "/", "_")+".test.exe")
			build := exec.Command("go", "test", "-c", "-o", exe, pkg.path)
			build.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("go test -c %s for windows: %v\n%s", pkg.path, err, out)
			}
			args := []string{"-test.count=1", "-test.timeout=3m"}
			if gaps := wineGaps[strings.TrimPrefix(pkg.path, "github.com/ilbvip/ilbvip/")]; len(gaps) > 0 {
				args = append(args, "-test.skip", skipPattern(t, p, pkg.dir, exe, gaps))
			}
			start := time.Now()
			r := p.RunIn(pkg.dir, 4*time.Minute, nil, exe, args...)
			if r.Code != 0 {
				t.Fatalf("%s under wine: exit %d\n%s%s", pkg.path, r.Code, r.Stdout, r.Stderr)
			}
			t.Logf("%s: passed under wine in %v", pkg.path, time.Since(start).Round(time.Millisecond))
		})
	}
}

// A wineGap is a test that fails under Wine 8 only because Wine lacks what
// Windows has, and why; it is skipped under Wine (and still runs wherever
// its package's tests run on Windows).
type wineGap struct{ test, why string }

const (
	noSymlinks = "Wine 8's CreateSymbolicLinkW reports success and creates nothing"
	noFileSD   = "Wine 8 keeps no security descriptor for files: it maps a DACL onto Unix mode bits and returns one made from them " +
		"(SYSTEM, the prefix's user, Everyone), never the protected flag or BUILTIN\\Administrators or BUILTIN\\Users"
)

// wineGaps, by package: keep it minimal. README.md ("How it is tested")
// lists the same.
var wineGaps = map[string][]wineGap{
	"internal/testenv": {{"TestRemoveTreeKeepsLinkTarget", noSymlinks}},
	"pkg/statedir": {
		{"TestEnsureRefusesSymlink", noSymlinks},
		{"TestNoFollow", noSymlinks},
		{"TestEnsureProtectsNewDir", noFileSD},
		{"TestEnsureRefusesUsersWrite", noFileSD},
	},
	"pkg/doctor": {{"TestPortHeldNamesProcess", "Wine 8's GetExtendedTcpTable(TCP_TABLE_OWNER_PID_LISTENER) gives every listener the owning pid 0"}},
}

// skipPattern is the -test.skip pattern for gaps; it fails the test when a
// listed test no longer exists (-test.list), so the list cannot go stale.
func skipPattern(t *testing.T, p *wine.Prefix, dir, exe string, gaps []wineGap) string {
	t.Helper()
	names := make([]string, len(gaps))
	for i, g := range gaps {
		names[i] = g.test
		t.Logf("skipped under wine: %s: %s", g.test, g.why)
	}
	pattern := "^(" + strings.Join(names, "|") + ")$"
	r := p.RunIn(dir, time.Minute, nil, exe, "-test.list", pattern)
	listed := strings.Fields(r.Stdout)
	for _, n := range names {
		if !slices.Contains(listed, n) {
			t.Errorf("wineGaps names %s, which the package's Windows tests do not have (-test.list: %v)", n, r)
		}
	}
	return pattern
}

type goPackage struct{ path, dir string }

// windowsTestPackages lists the module's packages that have tests when
// built for Windows.
func windowsTestPackages(t *testing.T) []goPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", "{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}} {{.Dir}}{{end}}", "github.com/ilbvip/ilbvip/...")
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []goPackage
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if path, dir, ok := strings.Cut(line, " "); ok {
			pkgs = append(pkgs, goPackage{path, dir})
		}
	}
	if len(pkgs) < 10 {
		t.Fatalf("only %d packages with Windows tests: %q", len(pkgs), out)
	}
	return pkgs
}
