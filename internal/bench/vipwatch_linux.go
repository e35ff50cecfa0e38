package bench

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/ilbvip/ilbvip/internal/netnsrun"
	"github.com/ilbvip/ilbvip/pkg/daemon"
	"github.com/ilbvip/ilbvip/pkg/procfs"
)

// vipWatch measures how fast a responder started by restore with --vip and
// --interface (so it watches the VIP) reacts, seen from the client, when
// the VIP leaves its interface and when it comes back. The run deletes and
// re-adds the VIP itself, by netlink in the node namespace, so what is
// timed is the responder's reaction, not an action's start-up. It runs
// after the other phases, on its own port and VIP.
func (r *runner) vipWatch() error {
	h, link, err := nodeNetlink(r.e.nodeNS)
	if err != nil {
		return err
	}
	defer h.Close()
	for i, m := range []struct {
		probe string
		extra []string
	}{
		{"tcp", nil},
		{"http", []string{"--protocol", "http"}},
	} {
		t0 := time.Now()
		row, err := r.vipWatchMode(h, link, i, m.probe, m.extra)
		if err != nil {
			return fmt.Errorf("%s: %w", m.probe, err)
		}
		row.Elapsed = time.Since(t0)
		r.res.VIPWatch = append(r.res.VIPWatch, row)
		r.logf("vip watch: %s, %d runs in %v: VIP deleted -> refused median %v p99 %v max %v; re-added -> answered median %v p99 %v max %v; one probe %v; %d waits unseen, %d other probe results",
			m.probe, row.Silent.N, fmtDur(row.Elapsed), fmtDur(row.Silent.Median), fmtDur(row.Silent.P99), fmtDur(row.Silent.Max),
			fmtDur(row.Answers.Median), fmtDur(row.Answers.P99), fmtDur(row.Answers.Max), fmtDur(row.Step.Median), row.Unseen, row.Other)
	}
	return nil
}

// nodeNetlink opens a netlink socket inside the node namespace (it stays
// there, usable from any thread) and finds the VIP's interface.
func nodeNetlink(ns netns.NsHandle) (*netlink.Handle, netlink.Link, error) {
	var h *netlink.Handle
	var link netlink.Link
	err := netnsrun.Do(ns, func() (err error) {
		if h, err = netlink.NewHandle(unix.NETLINK_ROUTE); err != nil {
			return err
		}
		link, err = h.LinkByName(vipNIC)
		return err
	})
	if err != nil {
		if h != nil {
			h.Close()
		}
		return nil, nil, fmt.Errorf("netlink in the node namespace: %w", err)
	}
	return h, link, nil
}

// vipWatchMode starts one responder, deletes and re-adds its VIP
// VIPRuns times (after one untimed warm-up) and stops it.
func (r *runner) vipWatchMode(h *netlink.Handle, link netlink.Link, i int, probe string, extra []string) (VIPWatchRow, error) {
	row := VIPWatchRow{Probe: probe}
	vip := fmt.Sprintf("10.231.0.%d", vipWatchBase+i)
	sub := &ilbvipExe{e: r.e, p: r.pth, tag: "bench-vipw-" + probe, prt: portVIPWatch + i, vip: vip, extra: extra, label: "ilbvip"}
	defer forceStop(sub)
	rec, err := r.startVIPWatcher(sub, vip)
	if err != nil {
		return row, err
	}
	f := &vipFlips{
		h: h, link: link, vip: vip, addr: vipNetlinkAddr(vip), row: &row,
		p: &vipProber{kind: probe, addr: net.JoinHostPort(nodeAddr, strconv.Itoa(sub.port()))},
	}
	err = netnsrun.Do(r.e.clientNS, func() error { return r.flipVIP(f, rec.Pid) })
	if err != nil {
		return row, err
	}
	row.Silent, row.Answers, row.Step = Summarize(f.silent), Summarize(f.answers), Summarize(f.steps)
	row.Other, row.FirstOther = f.p.other, f.p.firstOther
	_, err = sub.stop()
	return row, err
}

// startVIPWatcher starts sub and checks from its pid file that it watches
// vip: the responder watches only when restore gave it the VIP and its
// interface, and the pid file records both.
func (r *runner) startVIPWatcher(sub *ilbvipExe, vip string) (*daemon.Record, error) {
	if _, err := sub.start(); err != nil {
		return nil, err
	}
	rec, err := daemon.ReadRecord(r.e.stateDir, sub.tag)
	if err != nil {
		return nil, err
	}
	if rec.VIP != vip+"/32" || rec.Interface != vipNIC {
		return nil, fmt.Errorf("the responder does not watch %s/32 on %s (its pid file names %q on %q)", vip, vipNIC, rec.VIP, rec.Interface)
	}
	return rec, nil
}

// vipNetlinkAddr is vip in the shape restore gives an IPv4 VIP: /32,
// scope host, forever. Only ilbvip's IFA_PROTO mark is missing
// (netlink.Addr cannot carry it); the responder's check does not look at
// it, and remove deletes the VIP by its run mark.
func vipNetlinkAddr(vip string) *netlink.Addr {
	return &netlink.Addr{IPNet: &net.IPNet{IP: net.ParseIP(vip).To4(), Mask: net.CIDRMask(32, 32)}, Scope: unix.RT_SCOPE_HOST}
}

// vipFlips is one mode's VIP, how to change it, its prober, and what the
// timed runs measured.
type vipFlips struct {
	h                      *netlink.Handle
	link                   netlink.Link
	vip                    string
	addr                   *netlink.Addr
	p                      *vipProber
	row                    *VIPWatchRow // Probes and Unseen
	silent, answers, steps []time.Duration
}

// flipVIP runs in the client namespace: it waits until the responder
// answers, then deletes and re-adds the VIP VIPRuns+1 times, the first
// time untimed, as long as the responder (pid) lives.
func (r *runner) flipVIP(f *vipFlips, pid int) error {
	p := f.p
	if w := p.until(vipAnswered, vipFirstLimit, vipWaitProbes); !w.seen {
		return fmt.Errorf("%s does not answer the client within %v after restore (first failure: %s)", p.addr, vipFirstLimit, orQ(p.firstOther))
	}
	p.other, p.firstOther = 0, ""
	for run := 0; run <= r.o.VIPRuns; run++ { // run 0 is the warm-up
		if err := r.ctx.Err(); err != nil {
			return err
		}
		if !procfs.Alive(pid) {
			return fmt.Errorf("the responder (pid %d) is gone", pid)
		}
		if err := r.flipVIPOnce(f, run > 0); err != nil {
			return err
		}
		if run == 0 {
			p.other, p.firstOther = 0, ""
		}
	}
	return nil
}

// flipVIPOnce deletes the VIP and waits until the client is refused, then
// re-adds it and waits until the client is answered, with a pause after
// each. record keeps the times.
func (r *runner) flipVIPOnce(f *vipFlips, record bool) error {
	for _, c := range []struct {
		change string
		fn     func(netlink.Link, *netlink.Addr) error
		want   vipOutcome
		got    *[]time.Duration
	}{
		{"delete", f.h.AddrDel, vipRefused, &f.silent},
		{"re-add", f.h.AddrAdd, vipAnswered, &f.answers},
	} {
		t0 := time.Now()
		if err := c.fn(f.link, f.addr); err != nil {
			return fmt.Errorf("%s vip %s/32 on %s: %w", c.change, f.vip, vipNIC, err)
		}
		w := f.p.until(c.want, vipWaitLimit, vipWaitProbes)
		if record {
			*c.got = append(*c.got, w.at.Sub(t0))
			f.steps = append(f.steps, w.step())
			f.row.Probes += w.probes
			if !w.seen {
				f.row.Unseen++
			}
		}
		if err := r.sleep(vipPause); err != nil {
			return err
		}
	}
	return nil
}

// vipOutcome is what one probe saw.
type vipOutcome int

const (
	vipAnswered vipOutcome = iota // tcp: handshake done; http: 200
	vipRefused                    // tcp: connection refused (a reset); http: 503
	vipOther                      // a timeout, an error, another answer
)

// vipProber probes one address in a loop from the calling thread's
// network namespace and counts what was neither answer nor refusal.
type vipProber struct {
	kind       string // "tcp" or "http"
	addr       string
	other      int
	firstOther string
}

// vipWait is one wait for a change.
type vipWait struct {
	seen   bool      // the wanted outcome came
	at     time.Time // when it came; when the wait gave up otherwise
	start  time.Time
	probes int
}

// step is the mean time of one probe of the wait.
func (w vipWait) step() time.Duration {
	if w.probes == 0 {
		return 0
	}
	return w.at.Sub(w.start) / time.Duration(w.probes)
}

// until probes, each probe bounded by vipProbeTimeout and vipProbeGap
// apart, until one has the outcome want, at most limit and n probes.
func (p *vipProber) until(want vipOutcome, limit time.Duration, n int) vipWait {
	w := vipWait{start: time.Now()}
	end := w.start.Add(limit)
	for w.probes < n {
		got, err := p.probe()
		w.probes++
		w.at = time.Now()
		if got == want {
			w.seen = true
			return w
		}
		if got == vipOther {
			if p.other++; p.firstOther == "" {
				p.firstOther = err.Error()
			}
		}
		if !w.at.Before(end) {
			break
		}
		time.Sleep(vipProbeGap)
	}
	return w
}

// probe sends one probe: tcp a handshake, then a reset; http a GET / and
// the status line of the answer.
func (p *vipProber) probe() (vipOutcome, error) {
	t0 := time.Now()
	d := net.Dialer{Deadline: t0.Add(vipProbeTimeout)}
	c, err := d.Dial("tcp", p.addr)
	if err != nil {
		if p.kind == "tcp" && errors.Is(err, syscall.ECONNREFUSED) {
			return vipRefused, err
		}
		return vipOther, err
	}
	tc := c.(*net.TCPConn)
	defer func() { _ = tc.SetLinger(0); tc.Close() }() // no TIME_WAIT
	if p.kind == "tcp" {
		return vipAnswered, nil
	}
	_ = c.SetDeadline(t0.Add(vipProbeTimeout))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+p.addr+"\r\nUser-Agent: ilbvip-bench\r\nConnection: close\r\n\r\n"); err != nil {
		return vipOther, err
	}
	b := make([]byte, len("HTTP/1.1 200 "))
	if _, err := io.ReadFull(c, b); err != nil {
		return vipOther, fmt.Errorf("http: read status: %w", err)
	}
	switch string(b[len("HTTP/1.1 "):]) {
	case "200 ":
		return vipAnswered, nil
	case "503 ":
		return vipRefused, nil
	}
	return vipOther, fmt.Errorf("http: unexpected answer %q", b)
}
