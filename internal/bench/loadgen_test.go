package bench

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ilbvip/ilbvip/pkg/responder"
)

// serve starts a real responder on 127.0.0.1 for the test.
func serve(t *testing.T, o responder.Options) string {
	t.Helper()
	o.Addr = netip.MustParseAddrPort("127.0.0.1:0")
	s, err := responder.Listen(o)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	t.Cleanup(func() {
		_ = s.Close()
		<-done
	})
	return s.Addr().String()
}

func TestRunLoad(t *testing.T) {
	tcp := serve(t, responder.Options{Protocol: "tcp"})
	msg := serve(t, responder.Options{Protocol: "tcp", Message: []byte("OK")})
	http := serve(t, responder.Options{Protocol: "http", HTTPPath: "/health"})
	// A port nothing listens on: take one and close it again.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	tests := []struct {
		name    string
		spec    LoadSpec
		allOK   bool
		errPart string // in FirstError when not allOK
	}{
		{"tcp handshake", LoadSpec{Addr: tcp, Kind: KindTCP}, true, ""},
		{"tcp message", LoadSpec{Addr: msg, Kind: KindTCPMsg, Expect: "OK"}, true, ""},
		{"http 200", LoadSpec{Addr: http, Kind: KindHTTP, Path: "/health"}, true, ""},
		{"wrong message", LoadSpec{Addr: msg, Kind: KindTCPMsg, Expect: "NO"}, false, `want "NO"`},
		{"http 404", LoadSpec{Addr: http, Kind: KindHTTP, Path: "/other"}, false, "unexpected answer"},
		{"nothing listens", LoadSpec{Addr: closed, Kind: KindTCP}, false, "refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.spec
			s.Workers, s.Idle, s.Duration, s.MaxProbes, s.Timeout = 2, 3, 2*time.Second, 50, 2*time.Second
			res, err := RunLoad(s)
			if err != nil {
				t.Fatalf("RunLoad: %v", err)
			}
			if res.Probes != 50 {
				t.Errorf("probes %d, want 50 (MaxProbes)", res.Probes)
			}
			if tc.allOK {
				if res.OK != res.Probes || res.FirstError != "" || !res.Settled || res.IdleOpen != 3 {
					t.Errorf("%+v: want every probe ok, settled, 3 idle connections open", res)
				}
				if res.Rate() <= 0 || res.ShareWithin1s() != 1 {
					t.Errorf("rate %v, share within 1 s %v", res.Rate(), res.ShareWithin1s())
				}
				return
			}
			if res.OK != 0 || res.Settled || !strings.Contains(res.FirstError, tc.errPart) {
				t.Errorf("%+v: want every probe failed with %q", res, tc.errPart)
			}
		})
	}
}

func TestLoadSpecCheck(t *testing.T) {
	good := LoadSpec{Addr: "127.0.0.1:1", Kind: KindTCP, Workers: 1, Duration: time.Second, MaxProbes: 1, Timeout: time.Second}
	tests := []struct {
		name string
		edit func(*LoadSpec)
		want string
	}{
		{"good", func(*LoadSpec) {}, ""},
		{"kind", func(s *LoadSpec) { s.Kind = "udp" }, "kind"},
		{"no workers", func(s *LoadSpec) { s.Workers = 0 }, "workers"},
		{"unbounded duration", func(s *LoadSpec) { s.Duration = time.Hour }, "duration"},
		{"unbounded count", func(s *LoadSpec) { s.MaxProbes = 0 }, "max probes"},
		{"no timeout", func(s *LoadSpec) { s.Timeout = 0 }, "timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := good
			tc.edit(&s)
			err := s.check()
			if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
				t.Errorf("check() = %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

func TestOptionsCheck(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"defaults", func(*Options) {}, ""},
		{"too many cycles", func(o *Options) { o.Cycles = 100000 }, "cycles"},
		{"probe timeout within 1 s", func(o *Options) { o.ProbeTimeout = time.Second }, "probe timeout"},
		{"no workers", func(o *Options) { o.Workers = nil }, "workers"},
		{"negative idle", func(o *Options) { o.IdleConns = []int{-1} }, "idle connections"},
		{"no vip runs", func(o *Options) { o.VIPRuns = 0 }, "vip runs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := DefaultOptions()
			tc.edit(&o)
			err := o.Check()
			if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Check() = %v, want an error naming %q", err, tc.want)
			}
		})
	}
}
