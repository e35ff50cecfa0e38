// Package wine runs the kit's Windows executables and Windows test binaries
// on this Linux machine under Debian's Wine 8 (../shared/recipes/windows.md):
// a throwaway prefix whose wineserver starts inside a network namespace of
// the caller's (Wine's server owns every socket, so listeners live where it
// started), with the ProcessPrng shim that Go 1.22 and later need there.
package wine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ilbvip/ilbvip/internal/testenv"
)

// Debian's wine64 package puts the loader and server here.
const (
	loader = "/usr/lib/wine/wine64"
	server = "/usr/lib/wine/wineserver"
	cc     = "x86_64-w64-mingw32-gcc"
)

// Prefix is a Wine prefix whose wineserver runs in NS.
type Prefix struct {
	Dir string      // WINEPREFIX
	NS  *testenv.NS // every Windows process of the prefix runs here
	t   testing.TB  // owner, for cleanup messages
	env []string    // WINEPREFIX and WINEDEBUG for every command
}

// Require skips the test when Wine or the cross compiler is missing, and
// fails it in CI (scripts/install-test-deps.sh installs both).
func Require(t testing.TB) {
	t.Helper()
	for _, p := range []string{loader, server} {
		if _, err := os.Stat(p); err != nil {
			testenv.SkipOrFail(t, "%s is missing: run scripts/install-test-deps.sh (Debian package wine64)", p)
		}
	}
	testenv.RequireTools(t, cc)
}

// New creates a prefix in a new temporary directory, boots it inside ns
// (the first Wine command starts the prefix's wineserver, and with it every
// socket, in ns), and installs the ProcessPrng shim built from
// scripts/wine/bcryptprimitives.c. Cleanup ends every process of the prefix
// and deletes it. About 15 s here.
func New(t testing.TB, ns *testenv.NS) *Prefix {
	t.Helper()
	Require(t)
	dir, err := os.MkdirTemp("", "ilbvip-wine-")
	if err != nil {
		t.Fatal(err)
	}
	p := &Prefix{Dir: dir, NS: ns, t: t, env: []string{"WINEPREFIX=" + dir, "WINEDEBUG=-all"}}
	t.Cleanup(p.close)
	if r := p.Run(2*time.Minute, nil, "wineboot", "-i"); r.Code != 0 {
		t.Fatalf("wineboot -i in %s: %v", dir, r)
	}
	shim := filepath.Join(dir, "drive_c", "windows", "system32", "bcryptprimitives.dll")
	if err := buildShim(shim); err != nil {
		t.Fatal(err)
	}
	return p
}

// buildShim compiles the ProcessPrng DLL to out.
func buildShim(out string) error {
	src := filepath.Join(repoRoot(), "scripts", "wine", "bcryptprimitives.c")
	cmd := exec.Command(cc, "-shared", "-O2", "-s", "-Wl,--kill-at", "-o", out, src)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build %s: %v\n%s", src, err, b)
	}
	return nil
}

// repoRoot is the module's root: the first parent with go.mod.
func repoRoot() string {
	dir, _ := os.Getwd()
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return dir
		}
	}
}

// close ends the prefix's processes (wineserver -k) and deletes it.
func (p *Prefix) close() {
	k := exec.Command(server, "-k")
	k.Env = append(os.Environ(), p.env...)
	_ = k.Run()
	// The server may take a moment to let go of the prefix's files.
	for i := 0; i < 50; i++ {
		if err := os.RemoveAll(p.Dir); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.t.Errorf("remove wine prefix %s", p.Dir)
}

// Command runs a Windows program (a path on this machine, or a program of
// the prefix such as msiexec) inside the prefix's namespace. Wine passes
// the program's exit code through as its own.
func (p *Prefix) Command(ctx context.Context, exe string, args ...string) *exec.Cmd {
	a := append([]string{"netns", "exec", p.NS.Name, "env"}, p.env...)
	a = append(a, loader, exe)
	cmd := exec.CommandContext(ctx, "ip", append(a, args...)...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// Result is what a Windows program did.
type Result struct {
	Code           int
	Stdout, Stderr string
}

func (r Result) String() string {
	return fmt.Sprintf("exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
}

// Run runs exe with args and extra environment (added to the caller's; Wine
// passes the Unix environment to Windows programs), bounded to timeout.
func (p *Prefix) Run(timeout time.Duration, env []string, exe string, args ...string) Result {
	p.t.Helper()
	return p.RunIn("", timeout, env, exe, args...)
}

// RunIn is Run in working directory dir (Wine maps it to a drive Z: path).
func (p *Prefix) RunIn(dir string, timeout time.Duration, env []string, exe string, args ...string) Result {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := p.Command(ctx, exe, args...)
	cmd.Env = append(cmd.Env, env...)
	cmd.Dir = dir
	// Files, not pipes: Wine's background processes (wineserver, a
	// detached responder) inherit the output and would hold a pipe open.
	so, se := p.tempFile(), p.tempFile()
	defer so.Close()
	defer se.Close()
	cmd.Stdout, cmd.Stderr = so, se
	err := cmd.Run()
	r := Result{Stdout: readAll(so), Stderr: readAll(se)}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ctx.Err() == nil:
		r.Code = ee.ExitCode()
	default:
		p.t.Fatalf("run %s %s under wine: %v\n%s%s", exe, strings.Join(args, " "), err, r.Stdout, r.Stderr)
	}
	return r
}

func (p *Prefix) tempFile() *os.File {
	f, err := os.CreateTemp("", "ilbvip-wine-out-")
	if err != nil {
		p.t.Fatal(err)
	}
	os.Remove(f.Name())
	return f
}

// readAll reads what the program wrote to f from the start.
func readAll(f *os.File) string {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// Path is the Linux path of a path in the prefix's C: drive (C:\x\y).
func (p *Prefix) Path(winPath string) string {
	rest := strings.TrimPrefix(strings.TrimPrefix(winPath, `C:`), `c:`)
	return filepath.Join(p.Dir, "drive_c", filepath.FromSlash(strings.ReplaceAll(rest, `\`, "/")))
}
