package resource

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ilbvip/ilbvip/internal/testenv"
	"github.com/ilbvip/ilbvip/pkg/config"
	"github.com/ilbvip/ilbvip/pkg/daemon"
	"github.com/ilbvip/ilbvip/pkg/ocf"
	"github.com/ilbvip/ilbvip/pkg/statedir"
	"github.com/ilbvip/ilbvip/pkg/vip"
)

// These tests cover the ownership and run-mark decisions; they need no
// root and run on every OS (the actions' root tests show them end to end).

func testConfig(t *testing.T, tag, vipAddr string) *config.Config {
	t.Helper()
	c := &config.Config{Tag: tag, Port: 12345, Protocol: "tcp", StateDir: filepath.Join(testenv.TempDir(t), "state"), Interface: "eth1"}
	if vipAddr != "" {
		c.VIP = netip.MustParseAddr(vipAddr)
		c.Prefix = c.VIP.BitLen()
	}
	if err := statedir.Ensure(c.StateDir); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMarkRoundTrip(t *testing.T) {
	c := testConfig(t, "t1", "10.10.5.200")
	if m, err := readMark(c.StateDir, c.Tag); err != nil || m != (mark{}) {
		t.Fatalf("no file: %+v, %v; want the zero mark", m, err)
	}
	for _, want := range []mark{
		{Run: true, VIP: vipSpec(c), found: true},
		{Run: false, VIP: vipSpec(c), found: true},
		{Run: true, found: true},
		{VIP: vip.Spec{Addr: netip.MustParseAddr("2001:db8::5"), Prefix: 128, Interface: "Ethernet 2"}, found: true},
	} {
		if err := want.write(c.StateDir, c.Tag); err != nil {
			t.Fatal(err)
		}
		got, err := readMark(c.StateDir, c.Tag)
		want.VIP.Source = false // not recorded: delete does not need it
		if err != nil || got != want {
			t.Errorf("read back %+v, %v; want %+v", got, err, want)
		}
	}
	if err := removeMark(c.StateDir, c.Tag); err != nil {
		t.Fatal(err)
	}
	if m, _ := readMark(c.StateDir, c.Tag); m.found {
		t.Errorf("mark still found after removeMark")
	}
}

// A mark from before the last reboot is void: nothing runs, and the
// addresses it names are gone (or someone else's now).
func TestMarkFromPreviousBoot(t *testing.T) {
	if daemon.BootToken() == "" {
		t.Skip("this OS has no boot identity") // only where the kit does not run
	}
	m, err := parseMark([]byte("boot=1\nrun=1\nvip=10.10.5.200/32\ninterface=eth1\n"))
	if err != nil || m != (mark{}) {
		t.Errorf("previous boot: %+v, %v; want the zero mark", m, err)
	}
	if _, err := parseMark([]byte("boot=" + daemon.BootToken() + "\nrun=1\nvip=nonsense\n")); err == nil {
		t.Error("a corrupt vip line is accepted")
	}
}

func TestJudgeFound(t *testing.T) {
	vs := vip.Spec{Addr: netip.MustParseAddr("10.0.1.2"), Prefix: 32, Interface: "eth0"}
	tests := []struct {
		name string
		f    vip.Found
		ours bool
		want string // "" = accepted; else a part of the message
	}{
		{"absent", vip.Found{}, false, ""},
		{"ours", vip.Found{Present: true, Prefix: 32, Marked: true}, true, ""},
		{"exact, not ours", vip.Found{Present: true, Prefix: 32}, false, "ilbvip did not add it"},
		{"finite lifetime", vip.Found{Present: true, Prefix: 32, Finite: true}, false, "finite lifetime"},
		{"node address /24", vip.Found{Present: true, Prefix: 24}, false, "is an address of this node (10.0.1.2/24 on eth0)"},
		{"node address /32 (a cloud node's only address)", vip.Found{Present: true, Prefix: 32, Primary: true}, false, "is an address of this node (10.0.1.2/32 on eth0)"},
		// Even a marked address with another prefix is the node's now: the
		// prefix was never ilbvip's.
		{"ours but other prefix", vip.Found{Present: true, Prefix: 24, Marked: true}, true, "is an address of this node"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := judgeFound(vs, tc.f, tc.ours)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a refusal containing %q", err, tc.want)
			}
			// Node-local: never 6, which stops the resource on every node.
			if code := ExitCode(err); code != ocf.ErrGeneric {
				t.Errorf("exit %d, want %d", code, ocf.ErrGeneric)
			}
			if (tc.f.Prefix != vs.Prefix || tc.f.Primary) && strings.Contains(err.Error(), "ip addr del") {
				t.Errorf("advises deleting the node's own address: %v", err)
			}
		})
	}
}

func TestOwned(t *testing.T) {
	c := testConfig(t, "t1", "10.10.5.200")
	present := vip.Found{Present: true, Prefix: 32}
	if owned(c, vip.Found{}, mark{}) {
		t.Error("an absent address is owned")
	}
	if !owned(c, vip.Found{Present: true, Prefix: 32, Marked: true}, mark{}) {
		t.Error("an address the OS marks as ilbvip's is not owned")
	}
	if !owned(c, present, mark{found: true, Run: true, VIP: vipSpec(c)}) {
		t.Error("the VIP the run mark records is not owned")
	}
	if owned(c, present, mark{found: true, Run: true}) {
		t.Error("an unmarked address is owned although the run mark names no VIP")
	}
	// A resource restored by a version without run marks: its pid file
	// names the VIP, so it is ours.
	legacy := &daemon.Record{Pid: 99999, Start: startThisBoot(), Tag: "t1", Port: 12345, Protocol: "tcp", VIP: "10.10.5.200/32", Interface: "eth1"}
	if err := os.WriteFile(statedir.Path(c.StateDir, "t1", statedir.PidExt), legacy.Marshal(), 0o600); err != nil {
		t.Fatal(err)
	}
	if !owned(c, present, mark{}) {
		t.Error("the legacy pid file's VIP is not owned")
	}
	if owned(c, present, mark{found: true}) {
		t.Error("a run mark without the VIP is overruled by the pid file")
	}
}

// startThisBoot is a pid file's start time of a process of this boot: on
// Linux any (a record without a boot id is never from an earlier boot), on
// Windows a creation time (FILETIME) after the boot, since a record
// started before it is PreviousBoot there.
func startThisBoot() uint64 {
	if runtime.GOOS != "windows" {
		return 0
	}
	const epochDiff = 116444736000000000 // 1601 to 1970 in 100 ns
	return uint64(time.Now().UnixNano()/100) + epochDiff
}

func TestHolder(t *testing.T) {
	c := testConfig(t, "t1", "10.10.5.200")
	addr := c.VIP
	if h, err := holder(c.StateDir, "t1", addr); err != nil || h != "" {
		t.Fatalf("empty directory: %q, %v", h, err)
	}
	vs := vipSpec(c)
	write := func(tag string, m mark) {
		t.Helper()
		if err := m.write(c.StateDir, tag); err != nil {
			t.Fatal(err)
		}
	}
	write("t1", mark{Run: true, VIP: vs})  // itself does not count
	write("t2", mark{Run: false, VIP: vs}) // being removed: does not hold
	write("t3", mark{Run: true, VIP: vip.Spec{Addr: netip.MustParseAddr("10.10.5.201"), Prefix: 32, Interface: "eth1"}})
	if h, err := holder(c.StateDir, "t1", addr); err != nil || h != "" {
		t.Fatalf("no other running tag with the VIP: %q, %v", h, err)
	}
	write("t4", mark{Run: true, VIP: vs})
	if h, err := holder(c.StateDir, "t1", addr); err != nil || h != "t4" {
		t.Fatalf("holder %q, %v; want t4", h, err)
	}
	err := refuseHeld(c)
	if err == nil || !strings.Contains(err.Error(), "belongs to resource t4") || ExitCode(err) != ocf.ErrGeneric {
		t.Errorf("refuseHeld: %v (exit %d)", err, ExitCode(err))
	}
}

func TestStartedHere(t *testing.T) {
	c := testConfig(t, "t1", "")
	if startedHere(c) {
		t.Error("never restored: started")
	}
	if err := (mark{Run: true}).write(c.StateDir, c.Tag); err != nil {
		t.Fatal(err)
	}
	if !startedHere(c) {
		t.Error("marked running: not started")
	}
	if err := (mark{Run: false}).write(c.StateDir, c.Tag); err != nil {
		t.Fatal(err)
	}
	if startedHere(c) {
		t.Error("remove began: started")
	}
	if err := Recover(t.Context(), c, Options{}); !errors.Is(err, errNotStarted) || ExitCode(err) != ocf.NotRunning {
		t.Errorf("Recover of a resource remove began on: %v, want exit 7 %v", err, errNotStarted)
	}
	if _, err := os.Lstat(statedir.Path(c.StateDir, c.Tag, statedir.PidExt)); !isNotExist(err) {
		t.Errorf("recover left a pid file: %v", err)
	}
}
