package bench

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/ilbvip/ilbvip/internal/netnsrun"
	"github.com/ilbvip/ilbvip/pkg/daemon"
)

// sample is one timed action: wall time from exec to exit, and CPU time.
type sample struct {
	wall, cpu time.Duration
}

func (s sample) add(o sample) sample { return sample{s.wall + o.wall, s.cpu + o.cpu} }

// actionLimit bounds any one action (the agents' own default timeout is 20 s).
const actionLimit = 30 * time.Second

// subject is one way to run a VIP plus probe listener: ilbvip's executables,
// ilbvip's OCF agent, or IPaddr2 plus azure-lb.
type subject interface {
	name() string
	port() int
	start() (sample, error)   // VIP and listener up
	monitor() (sample, error) // both checked, healthy
	recover() (sample, error) // after the listener was killed: running again
	stop() (sample, error)    // both gone
	listener() (int, error)   // the listener's pid
}

// paths are where the programs under test are.
type paths struct {
	bin       string // ilbvip's restore, remove, quickCheck, recover
	agent     string // kit/ocf/ilbvip
	heartbeat string // /usr/lib/ocf/resource.d/heartbeat
	ocfRoot   string // /usr/lib/ocf
	nc        string
	socat     string
}

// step runs one action in the node namespace and wants it to succeed.
func (e *env) step(what string, argv, env []string) (sample, error) {
	r, err := e.p.run(e.nodeNS, actionLimit, argv, env)
	if err != nil {
		return sample{}, fmt.Errorf("%s: %w", what, err)
	}
	if r.code != 0 {
		return sample{}, fmt.Errorf("%s: %s exited %d, want 0: %s", what, filepath.Base(argv[0]), r.code, clip(r.out()))
	}
	return sample{r.wall, r.cpu}, nil
}

// withListener adds the listener's CPU so far to s: a detached listener is
// not the action's child, so its rusage never counts it.
func withListener(sub subject, s sample) sample {
	if pid, err := sub.listener(); err == nil {
		if c, err := cpuOf(pid); err == nil {
			s.cpu += c
		}
	}
	return s
}

// killListener kills the listener with SIGKILL and waits until it is gone
// (reaped: the run is its subreaper).
func killListener(sub subject) error {
	pid, err := sub.listener()
	if err != nil {
		return fmt.Errorf("%s: find listener: %w", sub.name(), err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("%s: kill -9 %d: %w", sub.name(), pid, err)
	}
	if !waitGone([]int{pid}, 5*time.Second) {
		return fmt.Errorf("%s: listener %d still alive 5 s after kill -9", sub.name(), pid)
	}
	return nil
}

// untilAnswers polls the subject's port from inside the node until a TCP
// handshake succeeds, at most limit, and returns when that happened.
func (e *env) untilAnswers(port int, limit time.Duration) (time.Time, error) {
	var at time.Time
	err := netnsrun.Do(e.nodeNS, func() error {
		end := time.Now().Add(limit)
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		for {
			c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
			if err == nil {
				at = time.Now()
				_ = c.(*net.TCPConn).SetLinger(0)
				c.Close()
				return nil
			}
			if time.Now().After(end) {
				return fmt.Errorf("port %d does not answer after %v: %w", port, limit, err)
			}
			time.Sleep(200 * time.Microsecond)
		}
	})
	return at, err
}

// ilbvipExe runs ilbvip's four executables with flags.
type ilbvipExe struct {
	e     *env
	p     paths
	tag   string
	prt   int
	vip   string // "" is vipIlbvip
	extra []string
	label string
}

func (s *ilbvipExe) name() string { return s.label }
func (s *ilbvipExe) port() int    { return s.prt }

func (s *ilbvipExe) argv(action string) []string {
	vip := s.vip
	if vip == "" {
		vip = vipIlbvip
	}
	a := []string{filepath.Join(s.p.bin, action), "-t", s.tag, "--port", strconv.Itoa(s.prt),
		"--vip", vip, "--interface", vipNIC, "--state-dir", s.e.stateDir}
	return append(a, s.extra...)
}

func (s *ilbvipExe) start() (sample, error) {
	r, err := s.e.step("restore", s.argv("restore"), baseEnv())
	return withListener(s, r), err
}

func (s *ilbvipExe) monitor() (sample, error) {
	return s.e.step("quickCheck", s.argv("quickCheck"), baseEnv())
}

// metricser is a subject that also has quickCheck --metrics.
type metricser interface{ metrics() (sample, error) }

func (s *ilbvipExe) metrics() (sample, error) {
	return s.e.step("quickCheck --metrics", append(s.argv("quickCheck"), "--metrics"), baseEnv())
}

func (s *ilbvipExe) recover() (sample, error) {
	r, err := s.e.step("recover", s.argv("recover"), baseEnv())
	return withListener(s, r), err
}

func (s *ilbvipExe) stop() (sample, error) {
	return s.e.step("remove", s.argv("remove"), baseEnv())
}

func (s *ilbvipExe) listener() (int, error) { return responderPid(s.e.stateDir, s.tag) }

// responderPid is the pid in the responder's pid file.
func responderPid(stateDir, tag string) (int, error) {
	rec, err := daemon.ReadRecord(stateDir, tag)
	if err != nil {
		return 0, err
	}
	return rec.Pid, nil
}

// ilbvipOCF runs ilbvip's OCF agent as Pacemaker does: one action as the
// argument, the parameters in OCF_RESKEY_*.
type ilbvipOCF struct {
	e     *env
	p     paths
	tag   string
	prt   int
	label string
}

func (s *ilbvipOCF) name() string { return s.label }
func (s *ilbvipOCF) port() int    { return s.prt }

func (s *ilbvipOCF) env(action string) []string {
	env := append(baseEnv(), ocfEnv(s.p, s.tag, "ilbvip", "ilbvip", action)...)
	return append(env,
		"OCF_RESKEY_port="+strconv.Itoa(s.prt),
		"OCF_RESKEY_vip="+vipIlbvip,
		"OCF_RESKEY_interface="+vipNIC,
		"OCF_RESKEY_state_dir="+s.e.stateDir,
		"OCF_RESKEY_bindir="+s.p.bin,
	)
}

func (s *ilbvipOCF) run(action string) (sample, error) {
	return s.e.step("ilbvip "+action, []string{s.p.agent, action}, s.env(action))
}

func (s *ilbvipOCF) start() (sample, error) {
	r, err := s.run("start")
	return withListener(s, r), err
}
func (s *ilbvipOCF) monitor() (sample, error) { return s.run("monitor") }
func (s *ilbvipOCF) recover() (sample, error) {
	r, err := s.run("recover")
	return withListener(s, r), err
}
func (s *ilbvipOCF) stop() (sample, error)  { return s.run("stop") }
func (s *ilbvipOCF) listener() (int, error) { return responderPid(s.e.stateDir, s.tag) }

// ocfEnv is the environment Pacemaker's executor gives an agent (without
// HA_LOGFACILITY: the reference agents log to stderr, not through logger,
// which only makes them cheaper).
func ocfEnv(p paths, instance, typ, provider, action string) []string {
	env := []string{
		"OCF_ROOT=" + p.ocfRoot,
		"OCF_RA_VERSION_MAJOR=1",
		"OCF_RA_VERSION_MINOR=1",
		"OCF_RESOURCE_INSTANCE=" + instance,
		"OCF_RESOURCE_TYPE=" + typ,
		"OCF_RESOURCE_PROVIDER=" + provider,
		"OCF_RESKEY_CRM_meta_timeout=20000",
	}
	if action == "monitor" {
		env = append(env, "OCF_RESKEY_CRM_meta_interval=10000")
	}
	return env
}

// pair is the usual Pacemaker setup this replaces: IPaddr2 for the VIP and
// azure-lb for the probe listener (nc, or socat), started in that order.
type pair struct {
	e        *env
	p        paths
	ipInst   string
	lbInst   string
	prt      int
	vip      string
	listenBy string // the nc parameter: /usr/bin/nc or /usr/bin/socat
	label    string
}

func newPair(e *env, p paths, label, suffix string, port int, vip, listenBy string) *pair {
	s := &pair{e: e, p: p, ipInst: "bench-ip-" + suffix + "-" + e.id, lbInst: "bench-lb-" + suffix + "-" + e.id,
		prt: port, vip: vip, listenBy: listenBy, label: label}
	e.files = append(e.files, s.pidFile())
	return s
}

func (s *pair) name() string    { return s.label }
func (s *pair) port() int       { return s.prt }
func (s *pair) pidFile() string { return "/var/run/" + s.lbInst + ".pid" } // azure-lb's choice

func (s *pair) ipaddr2(action string) (sample, error) {
	env := append(baseEnv(), ocfEnv(s.p, s.ipInst, "IPaddr2", "heartbeat", action)...)
	env = append(env, "OCF_RESKEY_ip="+s.vip, "OCF_RESKEY_cidr_netmask=32", "OCF_RESKEY_nic="+vipNIC)
	return s.e.step("IPaddr2 "+action, []string{filepath.Join(s.p.heartbeat, "IPaddr2"), action}, env)
}

func (s *pair) azurelb(action string) (sample, error) {
	env := append(baseEnv(), ocfEnv(s.p, s.lbInst, "azure-lb", "heartbeat", action)...)
	env = append(env, "OCF_RESKEY_port="+strconv.Itoa(s.prt), "OCF_RESKEY_nc="+s.listenBy)
	return s.e.step("azure-lb "+action, []string{filepath.Join(s.p.heartbeat, "azure-lb"), action}, env)
}

// both runs two steps in order and adds them up.
func both(a func() (sample, error), b func() (sample, error)) (sample, error) {
	x, err := a()
	if err != nil {
		return x, err
	}
	y, err := b()
	return x.add(y), err
}

func (s *pair) start() (sample, error) {
	r, err := both(func() (sample, error) { return s.ipaddr2("start") },
		func() (sample, error) { return s.azurelb("start") })
	return withListener(s, r), err
}

func (s *pair) monitor() (sample, error) {
	return both(func() (sample, error) { return s.ipaddr2("monitor") },
		func() (sample, error) { return s.azurelb("monitor") })
}

// recover is what Pacemaker does after azure-lb's monitor failed: stop it,
// start it again (the agents have no recover action).
func (s *pair) recover() (sample, error) {
	r, err := both(func() (sample, error) { return s.azurelb("stop") },
		func() (sample, error) { return s.azurelb("start") })
	return withListener(s, r), err
}

func (s *pair) stop() (sample, error) {
	return both(func() (sample, error) { return s.azurelb("stop") },
		func() (sample, error) { return s.ipaddr2("stop") })
}

func (s *pair) listener() (int, error) { return pidFromFile(s.pidFile()) }

// forceStop stops whatever of sub may still run, ignoring errors: the run's
// cleanup path (stop of a stopped resource succeeds anyway).
func forceStop(sub subject) { _, _ = sub.stop() }
