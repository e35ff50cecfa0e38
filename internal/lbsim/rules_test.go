package lbsim

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func twoBackends(c Config) Config {
	c.VIP = netip.MustParseAddr("10.10.5.200")
	c.Backends = []Backend{{"n1", netip.MustParseAddrPort("10.0.1.2:1")}, {"n2", netip.MustParseAddrPort("10.0.2.2:1")}}
	if c.Interval == 0 {
		c.Interval = time.Second
	}
	if c.Cloud == AWS && c.Listeners == nil {
		c.Listeners = []uint16{80}
	}
	return c
}

// rounds feeds probe results into a simulator with cfg and returns its
// events after the first and the routes it asked for.
func rounds(t *testing.T, cfg Config, results ...[]error) (string, string) {
	t.Helper()
	s, err := New(twoBackends(cfg))
	if err != nil {
		t.Fatal(err)
	}
	var rec recorder
	if err := s.reroute(&rec, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, res := range results {
		if err := s.apply(&rec, res, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	evs := s.Events()
	return summary(evs[1:]), strings.Join(rec.get(), " ")
}

// TestNoHealthyBackend: what each cloud does with new connections while no
// backend is healthy, with the settings a user chooses in the cloud.
func TestNoHealthyBackend(t *testing.T) {
	refused := errors.New("connect: connection refused")
	none := []error{refused, refused}
	for _, tc := range []struct {
		name   string
		cfg    Config
		first  string // the event before any probe
		routes string
	}{
		{"azure AllProbedDown (default) drops", Config{}, "dropped", "drop"},
		{"azure AllProbedUp sends to all", Config{NoHealthyBackendsBehavior: "allprobedup"}, "to-all", "all"},
		{"gcp without a failover policy sends to all", Config{Cloud: GCP}, "to-all", "all"},
		{"gcp dropTrafficIfUnhealthy drops", Config{Cloud: GCP, DropTrafficIfUnhealthy: true}, "dropped", "drop"},
		{"aws fails open", Config{Cloud: AWS}, "to-all", "all"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(twoBackends(tc.cfg))
			if err != nil {
				t.Fatal(err)
			}
			var rec recorder
			if err := s.reroute(&rec, time.Now()); err != nil {
				t.Fatal(err)
			}
			if err := s.apply(&rec, none, time.Now()); err != nil {
				t.Fatal(err)
			}
			evs := s.Events()
			if len(evs) != 1 || string(evs[0].Kind) != tc.first || strings.Join(rec.get(), " ") != tc.routes {
				t.Errorf("events %s, routes %v; want %s, %s", summary(evs), rec.get(), tc.first, tc.routes)
			}
			if evs[0].Kind == ToAll && evs[0].Detail == "" {
				t.Errorf("a to-all event must say which setting: %+v", evs[0])
			}
		})
	}
	// A healthy backend takes the traffic back from "all", and losing it
	// sends to all again.
	ok := []error{nil, refused}
	ev, routes := rounds(t, Config{Cloud: AWS, Threshold: 1}, ok, none)
	if ev != "up n1, routed n1, down n1, to-all" || routes != "all n1 all" {
		t.Errorf("aws: events %s, routes %s", ev, routes)
	}
}

// TestFailFastHTTP: Azure takes an HTTP answer other than 200 at once;
// a timeout counts toward the threshold there, and every failure does
// elsewhere.
func TestFailFastHTTP(t *testing.T) {
	ok := []error{nil, nil}
	status := []error{&StatusError{Code: 503}, nil}
	timeout := []error{errors.New("i/o timeout"), nil}
	up := [][]error{ok, ok, ok}
	for _, tc := range []struct {
		name  string
		cfg   Config
		after []error
		want  string
	}{
		{"azure: 503 at once", Config{}, status, "down n1"},
		{"azure: one timeout is not enough", Config{}, timeout, ""},
		{"gcp: 503 counts toward the threshold", Config{Cloud: GCP, DropTrafficIfUnhealthy: true}, status, ""},
		{"aws: 503 counts toward the threshold", Config{Cloud: AWS}, status, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Threshold = 3
			ev, _ := rounds(t, tc.cfg, append(up, tc.after)...)
			ev = strings.TrimPrefix(strings.TrimPrefix(ev, "up n1, up n2, two-healthy, routed n1"), ", ")
			if !strings.HasPrefix(ev, tc.want) || (tc.want == "" && ev != "") {
				t.Errorf("events after the failure: %q, want %q", ev, tc.want)
			}
		})
	}
}

// TestHTTPRule: Azure and Google Cloud take only 200; an AWS target group
// takes 200-399 by default. The probe carries the cloud's User-Agent and
// the destination as Host.
func TestHTTPRule(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.UserAgent()+" "+r.Host)
		code := 200
		fmt.Sscan(strings.TrimPrefix(r.URL.Path, "/"), &code)
		w.WriteHeader(code)
	}))
	defer srv.Close()
	dst := netip.MustParseAddrPort(srv.Listener.Addr().String())
	for _, tc := range []struct {
		cloud string
		code  int
		ok    bool
	}{
		{Azure, 200, true}, {Azure, 302, false}, {Azure, 503, false},
		{GCP, 200, true}, {GCP, 204, false},
		{AWS, 200, true}, {AWS, 302, true}, {AWS, 399, true}, {AWS, 404, false},
	} {
		t.Run(fmt.Sprintf("%s %d", tc.cloud, tc.code), func(t *testing.T) {
			s, err := New(twoBackends(Config{Cloud: tc.cloud, Protocol: "http", Path: fmt.Sprintf("/%d", tc.code)}))
			if err != nil {
				t.Fatal(err)
			}
			c, err := net.Dial("tcp", dst.String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			err = s.exchange(c, dst)
			var se *StatusError
			if tc.ok != (err == nil) || (!tc.ok && (!errors.As(err, &se) || se.Code != tc.code)) {
				t.Errorf("exchange: %v, want ok %t", err, tc.ok)
			}
		})
	}
	if want := "GoogleHC/1.0 " + dst.Addr().String(); !strings.Contains(strings.Join(got, "\n"), want) {
		t.Errorf("requests %q lack %q", got, want)
	}
}

func TestCloudOptions(t *testing.T) {
	for _, tc := range []struct {
		cfg Config
		err string
	}{
		{Config{Cloud: "azur"}, `cloud "azur": use azure, gcp or aws`},
		{Config{NoHealthyBackendsBehavior: "sometimes"}, "use AllProbedDown or AllProbedUp"},
		{Config{Cloud: GCP, NoHealthyBackendsBehavior: AllProbedUp}, "Azure's setting"},
		{Config{Cloud: Azure, DropTrafficIfUnhealthy: true}, "failover policy's setting"},
		{Config{Cloud: AWS, Listeners: []uint16{}}, "listener ports"},
	} {
		cfg := twoBackends(tc.cfg)
		if tc.cfg.Listeners != nil {
			cfg.Listeners = nil
		}
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.err)
		}
	}
	s, err := New(twoBackends(Config{Cloud: "GCP"}))
	if err != nil {
		t.Fatal(err)
	}
	if r := s.Rules(); !r.ProbeToVIP || !r.FloatingIP || r.FailFastHTTP || !r.ToAllWhenNoneHealthy {
		t.Errorf("gcp rules %+v", r)
	}
	s, _ = New(twoBackends(Config{Cloud: AWS}))
	if r := s.Rules(); r.ProbeToVIP || r.FloatingIP || !r.ToAllWhenNoneHealthy {
		t.Errorf("aws rules %+v", r)
	}
	s, _ = New(twoBackends(Config{}))
	if r := s.Rules(); r.Cloud != Azure || r.ProbeToVIP || !r.FloatingIP || !r.FailFastHTTP || r.ToAllWhenNoneHealthy {
		t.Errorf("azure rules %+v", r)
	}
}
