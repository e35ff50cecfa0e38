package packaging_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ilbvip/ilbvip/internal/testenv"
	"github.com/ilbvip/ilbvip/internal/wine"
	"github.com/ilbvip/ilbvip/pkg/ocf"
)

// The MSI as a Windows administrator gets it: installed with msiexec /qn
// into a Wine prefix whose sockets live in a namespace of the test's, then
// the installed executables run as LifeKeeper for Windows or an admin runs
// them. Responder-only resources: Wine has no CreateUnicastIpAddressEntry,
// so the VIP calls stay compile- and unit-tested (README, "How it is
// tested").

const (
	installDir = `C:\Program Files\ilbvip`
	configDir  = `C:\ProgramData\ilbvip`
)

// winNode is a Windows node under Wine with the MSI installed.
type winNode struct {
	t      *testing.T
	p      *wine.Prefix
	helper string // winhelper.exe, on this machine
}

func TestMSIUnderWine(t *testing.T) {
	testenv.RequireRoot(t)
	needPackages(t)
	wine.Require(t)
	n := &winNode{t: t, p: wine.New(t, testenv.NewNS(t)), helper: buildWinHelper(t)}
	if r := n.p.Run(2*time.Minute, nil, "msiexec", "/i", msiFile, "/qn"); r.Code != 0 {
		t.Fatalf("msiexec /i %s /qn: %v", filepath.Base(msiFile), r)
	}
	for _, f := range []string{installDir + `\restore.exe`, installDir + `\quickCheck.exe`, configDir + `\example.yaml`} {
		if _, err := os.Stat(n.p.Path(f)); err != nil {
			t.Fatalf("after msiexec: %v", err)
		}
	}
	t.Run("lifecycle", n.testLifecycle)
	t.Run("bad config", n.testBadConfig)
	t.Run("port taken", n.testPortTaken)
	t.Run("concurrent restores", n.testConcurrentRestores)
	t.Run("stranger never signalled", n.testStranger)
	t.Run("lifekeeper", n.testLifeKeeper)
	t.Run("diagnose", n.testDiagnose)
	t.Run("state directory protection", n.testStateDirProtection)
	t.Run("hung responder terminated", n.testHungResponder)
}

// buildWinHelper builds testdata/winhelper for Windows.
func buildWinHelper(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "winhelper.exe")
	cmd := exec.Command("go", "build", "-o", out, "./testdata/winhelper")
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build winhelper: %v\n%s", err, b)
	}
	return out
}

// run runs an installed action (restore, remove, ...) with args.
func (n *winNode) run(action string, env []string, args ...string) wine.Result {
	n.t.Helper()
	return n.p.Run(time.Minute, env, installDir+`\`+action+".exe", args...)
}

func (n *winNode) want(code int, action string, args ...string) wine.Result {
	n.t.Helper()
	r := n.run(action, nil, args...)
	if r.Code != code {
		n.t.Fatalf("%s %s: %v, want exit %d", action, strings.Join(args, " "), r, code)
	}
	return r
}

// args are a responder-only resource's flags with its own state directory.
func args(tag string, port int, extra ...string) []string {
	return append([]string{"-t", tag, "--port", strconv.Itoa(port), "--state-dir", configDir + `\state-` + tag}, extra...)
}

// probe connects to port inside the node and returns what it sent; err
// when the connection is refused or fails.
func (n *winNode) probe(port int) (string, error) {
	var got string
	var err error
	n.p.NS.Do(n.t, func() {
		var c net.Conn
		c, err = net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 2*time.Second)
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		var b [256]byte
		k, _ := c.Read(b[:])
		got = string(b[:k])
	})
	return got, err
}

// responders are the Linux pids of the tag's responders (Wine shows a
// Windows process under its own command line).
func responders(tag string) []int {
	out, _ := exec.Command("pgrep", "-f", "^ilbvip-responder serve --tag "+tag+" ").Output()
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if p, err := strconv.Atoi(f); err == nil {
			pids = append(pids, p)
		}
	}
	return pids
}

// stateFiles lists what the tag's state directory holds.
func (n *winNode) stateFiles(tag string) []string {
	m, _ := filepath.Glob(filepath.Join(n.p.Path(configDir+`\state-`+tag), "*"))
	var out []string
	for _, f := range m {
		if !strings.HasSuffix(f, ".log") {
			out = append(out, filepath.Base(f))
		}
	}
	return out
}

func (n *winNode) testLifecycle(t *testing.T) {
	n.t = t
	a := args("lc", 12345, "--message", "hello from windows")
	n.want(0, "restore", a...)
	if got, err := n.probe(12345); err != nil || got != "hello from windows" {
		t.Fatalf("probe after restore: %q, %v", got, err)
	}
	n.want(0, "quickCheck", a...)
	pids := responders("lc")
	if len(pids) != 1 {
		t.Fatalf("responders after restore: %v, want one", pids)
	}
	_ = syscall.Kill(pids[0], syscall.SIGKILL)
	testenv.WaitDead(t, pids[0])
	n.want(1, "quickCheck", a...)
	n.want(0, "recover", a...)
	n.want(0, "quickCheck", a...)
	if _, err := n.probe(12345); err != nil {
		t.Fatalf("probe after recover: %v", err)
	}
	n.want(0, "remove", a...)
	if _, err := n.probe(12345); err == nil {
		t.Fatal("the port still answers after remove")
	}
	if p := responders("lc"); len(p) != 0 {
		t.Fatalf("responders after remove: %v", p)
	}
	n.want(0, "remove", a...)
	n.want(7, "quickCheck", a...)
	if f := n.stateFiles("lc"); len(f) != 0 {
		t.Errorf("left in the state directory: %v", f)
	}
}

func (n *winNode) testBadConfig(t *testing.T) {
	n.t = t
	cfg := configDir + `\bad.yaml`
	if err := os.WriteFile(n.p.Path(cfg), []byte("port: 12346\nprotocl: tcp\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, a := range [][]string{
		args("bad", 0),
		{"-t", "bad", "-c", cfg, "--state-dir", configDir + `\state-bad`},
		args("bad", 12346, "--protocol", "udp"),
	} {
		r := n.want(6, "restore", a...)
		if lines := strings.Split(strings.TrimSpace(r.Stderr), "\n"); len(lines) != 1 {
			t.Errorf("restore %v: want one line naming the parameter, got %q", a, r.Stderr)
		}
	}
	if _, err := n.probe(12346); err == nil {
		t.Error("something answers on 12346 after a refused restore")
	}
	if p := responders("bad"); len(p) != 0 {
		t.Errorf("responders after a refused restore: %v", p)
	}
	if f := n.stateFiles("bad"); len(f) != 0 {
		t.Errorf("left in the state directory: %v", f)
	}
}

// startHelper starts winhelper with args (its FILE argument last) and
// returns its Windows identity ("pid=N\nstart=FT\n") once it is ready.
func (n *winNode) startHelper(t *testing.T, args ...string) (pid int, start string) {
	t.Helper()
	ready := `C:\winhelper-` + strconv.FormatInt(time.Now().UnixNano(), 36) + ".txt"
	cmd := n.p.Command(t.Context(), n.helper, append(args, ready)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); helperKill(ready) })
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		b, err := os.ReadFile(n.p.Path(ready))
		if err != nil || !strings.HasSuffix(string(b), "\n") {
			continue
		}
		var p int
		var s string
		if _, err := fmt.Sscanf(string(b), "pid=%d\nstart=%s\n", &p, &s); err == nil {
			return p, s
		}
	}
	t.Fatalf("winhelper %v did not get ready", args)
	return 0, ""
}

// helperKill ends the Wine process of a winhelper (ip netns exec and the
// loader are its parents, and a kill of those leaves it running).
func helperKill(ready string) {
	_ = exec.Command("pkill", "-KILL", "-f", `winhelper.exe .*`+strings.ReplaceAll(ready, `\`, `\\`)).Run()
}

func (n *winNode) testPortTaken(t *testing.T) {
	n.t = t
	n.startHelper(t, "listen", "12347")
	r := n.want(1, "restore", args("taken", 12347)...)
	// Wine's socket table has no owner pid (wineserver holds every
	// socket), so the holder is "a process the socket table does not name" here; naming it from
	// GetExtendedTcpTable is unit-tested (pkg/responder).
	if !strings.Contains(r.Stderr, "port 12347 is already in use by") {
		t.Errorf("restore with the port taken should say who holds port 12347: %q", r.Stderr)
	}
	if p := responders("taken"); len(p) != 0 {
		t.Errorf("responders after a failed restore: %v", p)
	}
	if f := n.stateFiles("taken"); len(f) != 0 {
		t.Errorf("left in the state directory: %v", f)
	}
}

func (n *winNode) testConcurrentRestores(t *testing.T) {
	n.t = t
	a := args("cc", 12348)
	var wg sync.WaitGroup
	results := make([]wine.Result, 10)
	for i := range results {
		wg.Add(1)
		go func() { defer wg.Done(); results[i] = n.run("restore", nil, a...) }()
	}
	wg.Wait()
	for i, r := range results {
		if r.Code != ocf.Success {
			t.Errorf("restore %d: %v", i, r)
		}
	}
	if p := responders("cc"); len(p) != 1 {
		t.Errorf("%d responders after 10 concurrent restores, want 1: %v", len(p), p)
	}
	n.want(0, "quickCheck", a...)
	n.want(0, "remove", a...)
}

func (n *winNode) testStranger(t *testing.T) {
	n.t = t
	a := args("st", 12349)
	pid, start := n.startHelper(t, "sleep")
	if err := os.MkdirAll(n.p.Path(configDir+`\state-st`), 0o700); err != nil {
		t.Fatal(err)
	}
	ft, err := strconv.ParseUint(start, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, start string }{
		// Creation time differs, within this boot: another process now (a
		// time before the boot makes the record a previous boot's: stopped).
		{"pid reused", strconv.FormatUint(ft-10_000_000, 10)},
		{"forged identity", start}, // pid and creation time right, not a responder
	} {
		t.Run(tc.name, func(t *testing.T) {
			n.t = t
			rec := fmt.Sprintf("pid=%d\nstart=%s\nboot=\ntag=st\nport=12349\nprotocol=tcp\nvip=\ninterface=\nconfig=x\n", pid, tc.start)
			pidFile := n.p.Path(configDir + `\state-st\st.pid`)
			if err := os.WriteFile(pidFile, []byte(rec), 0o600); err != nil {
				t.Fatal(err)
			}
			n.want(1, "quickCheck", a...)
			n.want(0, "remove", a...)
			n.helperAlive(t, pid)
			if err := os.WriteFile(pidFile, []byte(rec), 0o600); err != nil {
				t.Fatal(err)
			}
			n.want(0, "restore", a...)
			n.want(0, "recover", a...)
			n.want(0, "remove", a...)
			n.helperAlive(t, pid)
		})
	}
}

// helperAlive fails unless the winhelper sleeper (Windows pid) still runs:
// its Linux process is found by its command line.
func (n *winNode) helperAlive(t *testing.T, pid int) {
	t.Helper()
	if err := exec.Command("pgrep", "-f", `winhelper.exe sleep`).Run(); err != nil {
		t.Fatalf("the unrelated process (Windows pid %d) was stopped", pid)
	}
}

// testLifeKeeper runs the actions as LifeKeeper for Windows does (ACTION -t
// TAG -i ID, no config file), with the info field from a fake ins_list.exe
// at LifeKeeper's default location, C:\LK\bin (LKROOT unset, as in an
// admin's shell).
func (n *winNode) testLifeKeeper(t *testing.T) {
	n.t = t
	bin := n.p.Path(`C:\LK\bin`)
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(n.helper)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "ins_list.exe"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "ins_list.txt"), []byte("12350 lk-hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := []string{"-t", "lbhc-12350", "-i", "lbhc-12350"}
	n.want(0, "restore", a...)
	if got, err := n.probe(12350); err != nil || got != "lk-hello" {
		t.Fatalf("probe of the LifeKeeper resource: %q, %v (want the info field's message)", got, err)
	}
	n.want(0, "quickCheck", a...)
	n.want(0, "remove", a...)
	if _, err := n.probe(12350); err == nil {
		t.Fatal("the port still answers after remove")
	}
	n.want(7, "quickCheck", a...)

	// The same through the MSI's .cmd wrappers, as a LifeKeeper resource
	// whose scripts are scripts: arguments and exit codes pass through.
	for _, step := range []struct {
		action string
		code   int
	}{{"restore", 0}, {"quickCheck", 0}, {"remove", 0}, {"quickCheck", 7}} {
		cmdFile := installDir + `\lifekeeper\` + step.action + ".cmd"
		if r := n.p.Run(time.Minute, nil, "cmd", append([]string{"/c", cmdFile}, a...)...); r.Code != step.code {
			t.Fatalf("cmd /c %s %s: %v, want exit %d", cmdFile, strings.Join(a, " "), r, step.code)
		}
	}
	if r := n.p.Run(time.Minute, nil, "cmd", "/c", installDir+`\lifekeeper\restore.cmd`, "-t", "lbhc-12350", "-i", "lbhc-12350", "--port", "0"); r.Code != ocf.ErrConfigured {
		t.Fatalf("restore.cmd with a bad port: %v, want exit 6", r)
	}
}

// testDiagnose runs quickCheck --diagnose with a VIP. The interface is
// looked up as restore will: "Ethernet 2" is not on this node (Wine shows
// the namespace's lo), so the line fails naming what the node has; "lo"
// passes. Wine 8 answers GetIpInterfaceTable "Request not supported", so
// the weak host line says it could not read the settings and gives the
// command to check by hand (the verdict itself is unit-tested in
// pkg/doctor); nothing panics.
func (n *winNode) testDiagnose(t *testing.T) {
	n.t = t
	r := n.want(1, "quickCheck", args("dg", 12351, "--vip", "10.10.5.200", "--interface", "Ethernet 2", "--diagnose")...)
	if want := `fail  interface       interface "Ethernet 2" not found (this node has: "lo" (index 1))`; !strings.Contains(r.Stdout, want) {
		t.Errorf("diagnose under Wine: want %q, got\n%s", want, r.Stdout)
	}
	r = n.want(0, "quickCheck", args("dg", 12351, "--vip", "10.10.5.200", "--interface", "lo", "--diagnose")...)
	for _, want := range []string{
		`ok    interface       interface "lo" exists and is up`,
		`warn  weak_host       could not read the interfaces' weak host settings: GetIpInterfaceTable: `,
		`netsh interface ipv4 show interface "lo"`,
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("diagnose under Wine: want %q, got\n%s", want, r.Stdout)
		}
	}
}

// testStateDirProtection: a state directory that others may write is
// refused, with the icacls line that fixes it, and nothing starts. Wine
// keeps no security descriptor for files and derives the DACL from the
// Unix mode (others' bits become Everyone's), so mode 0777 is "Everyone:
// full control" there; the verdict on real DACLs is unit-tested
// (pkg/statedir, TestJudgeDACL).
func (n *winNode) testStateDirProtection(t *testing.T) {
	n.t = t
	a := args("sd", 12352)
	dir := n.p.Path(configDir + `\state-sd`)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	for _, action := range []string{"restore", "quickCheck"} {
		r := n.want(1, action, a...)
		if !strings.Contains(r.Stderr, "icacls") || !strings.Contains(r.Stderr, `state-sd`) {
			t.Errorf("%s with a state directory others may write: want the icacls fix naming it, got %q", action, r.Stderr)
		}
	}
	if _, err := n.probe(12352); err == nil {
		t.Error("a responder answers although the state directory was refused")
	}
	if f := n.stateFiles("sd"); len(f) != 0 {
		t.Errorf("written into the refused state directory: %v", f)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	n.want(0, "restore", a...)
	n.want(0, "remove", a...)

	// A config file others may write is refused alike (5: this node's
	// file), before anything starts.
	cfg := configDir + `\sd.yaml`
	if err := os.WriteFile(n.p.Path(cfg), []byte("port: 12352\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(n.p.Path(cfg), 0o666); err != nil {
		t.Fatal(err)
	}
	r := n.want(5, "restore", "-t", "sd", "-c", cfg, "--state-dir", configDir+`\state-sd`)
	if !strings.Contains(r.Stderr, `icacls "`+cfg+`"`) {
		t.Errorf("restore with a config file others may write: want the icacls fix naming it, got %q", r.Stderr)
	}
	if _, err := n.probe(12352); err == nil {
		t.Error("a responder answers although the config file was refused")
	}
}

// testHungResponder: a responder that does not answer its stop event (here
// stopped with SIGSTOP) is ended with TerminateProcess near the end of
// remove's budget, and remove still returns 0 with the port silent.
func (n *winNode) testHungResponder(t *testing.T) {
	n.t = t
	a := args("hg", 12353, "--action-timeout", "5s")
	n.want(0, "restore", a...)
	pids := responders("hg")
	if len(pids) != 1 {
		t.Fatalf("responders after restore: %v", pids)
	}
	if err := syscall.Kill(pids[0], syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(pids[0], syscall.SIGKILL)
	n.want(0, "remove", a...)
	testenv.WaitDead(t, pids[0])
	if _, err := n.probe(12353); err == nil {
		t.Fatal("the port still answers after remove")
	}
}
