package resource

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"testing"

	"github.com/ilbvip/ilbvip/pkg/config"
	"github.com/ilbvip/ilbvip/pkg/daemon"
	"github.com/ilbvip/ilbvip/pkg/ocf"
	"github.com/ilbvip/ilbvip/pkg/vip"
)

// These tests check restore's and remove's order and rollback with fakes
// of the VIP and responder steps: no root, no namespace, every OS. The
// actions' root tests show the same end to end with real addresses and
// processes.

// steps records, in order, what restore and remove did to the VIP and the
// responder.
type steps struct {
	did        []string
	present    bool  // the VIP is on the interface before the action
	respondErr error // the responder step's ensure fails with it
	silentErr  error // the port still answers after the stop
}

func (s *steps) Check(vip.Spec) error { return nil }
func (s *steps) Lookup(vs vip.Spec) (vip.Found, error) {
	if !s.present {
		return vip.Found{}, nil
	}
	return vip.Found{Present: true, Prefix: vs.Prefix}, nil
}
func (s *steps) Add(vs vip.Spec) error {
	s.did = append(s.did, "add vip")
	s.present = true
	return nil
}
func (s *steps) Delete(vs vip.Spec) error {
	s.did = append(s.did, "delete vip")
	s.present = false
	return nil
}
func (s *steps) Locate(netip.Addr) (string, int, bool, error) {
	return "", 0, false, nil
}

func (s *steps) ensure(context.Context, *config.Config, Options) error {
	s.did = append(s.did, "start responder")
	return s.respondErr
}

func (s *steps) stop(context.Context, *config.Config) ([]int, error) {
	s.did = append(s.did, "stop responder")
	return nil, nil
}

func (s *steps) confirmSilent(context.Context, []int, ...uint16) error {
	s.did = append(s.did, "confirm silent")
	return s.silentErr
}

func (s *steps) options() Options { return Options{vipStep: s, responderStep: s} }

func (s *steps) expect(t *testing.T, want ...string) {
	t.Helper()
	if !slices.Equal(s.did, want) {
		t.Errorf("did %q, want %q", s.did, want)
	}
}

func TestRestoreAddsVIPBeforeResponder(t *testing.T) {
	c := testConfig(t, "u1", "192.0.2.77")
	s := &steps{}
	if err := Restore(t.Context(), c, s.options()); err != nil {
		t.Fatal(err)
	}
	s.expect(t, "add vip", "start responder")
	if m, err := readMark(c.StateDir, c.Tag); err != nil || !m.Run || !sameVIP(m.VIP, vipSpec(c)) {
		t.Errorf("run mark %+v, %v; want running with the VIP", m, err)
	}
}

// A responder that cannot start takes the VIP restore added with it, and
// a resource that was stopped stays unmarked.
func TestRestoreRollsBackTheVIPItAdded(t *testing.T) {
	c := testConfig(t, "u2", "192.0.2.77")
	failed := &Error{Code: ocf.ErrGeneric, Err: errors.New("port 12345 does not answer the probe")}
	s := &steps{respondErr: failed}
	err := Restore(t.Context(), c, s.options())
	if !errors.Is(err, failed) || ExitCode(err) != ocf.ErrGeneric {
		t.Fatalf("restore: %v (exit %d), want %v", err, ExitCode(err), failed)
	}
	s.expect(t, "add vip", "start responder", "delete vip")
	if m, _ := readMark(c.StateDir, c.Tag); m.found {
		t.Errorf("a failed restore of a stopped resource left a run mark: %+v", m)
	}
}

// The rollback deletes only what this restore added: a VIP the resource
// already had (restored before) stays, and so does its run mark.
func TestRestoreKeepsTheVIPItFound(t *testing.T) {
	c := testConfig(t, "u3", "192.0.2.77")
	before := mark{Run: true, VIP: vipSpec(c), Port: c.Port}
	if err := before.write(c.StateDir, c.Tag); err != nil {
		t.Fatal(err)
	}
	s := &steps{present: true, respondErr: errors.New("responder crashed")}
	if err := Restore(t.Context(), c, s.options()); err == nil {
		t.Fatal("restore succeeded with a failing responder")
	}
	s.expect(t, "add vip", "start responder")
	if m, err := readMark(c.StateDir, c.Tag); err != nil || !m.Run || !sameVIP(m.VIP, vipSpec(c)) {
		t.Errorf("run mark %+v, %v; want the one from before", m, err)
	}
}

func TestRemoveSilencesResponderBeforeDeletingVIP(t *testing.T) {
	c := testConfig(t, "u4", "192.0.2.77")
	if err := (mark{Run: true, VIP: vipSpec(c), Port: c.Port}).write(c.StateDir, c.Tag); err != nil {
		t.Fatal(err)
	}
	s := &steps{present: true}
	if err := Remove(t.Context(), c, s.options()); err != nil {
		t.Fatal(err)
	}
	s.expect(t, "stop responder", "confirm silent", "delete vip")
	if m, _ := readMark(c.StateDir, c.Tag); m.found {
		t.Errorf("remove left a run mark: %+v", m)
	}
}

// While the port still answers, remove keeps the VIP and fails, and the
// run mark says "stopping" so recover no longer repairs the resource.
func TestRemoveKeepsVIPWhilePortAnswers(t *testing.T) {
	c := testConfig(t, "u5", "192.0.2.77")
	if err := (mark{Run: true, VIP: vipSpec(c), Port: c.Port}).write(c.StateDir, c.Tag); err != nil {
		t.Fatal(err)
	}
	answers := &Error{Code: ocf.ErrGeneric, Err: errors.New("port 12345 still answers after the responder stopped")}
	s := &steps{present: true, silentErr: answers}
	err := Remove(t.Context(), c, s.options())
	if !errors.Is(err, answers) || ExitCode(err) != ocf.ErrGeneric {
		t.Fatalf("remove: %v (exit %d), want %v", err, ExitCode(err), answers)
	}
	s.expect(t, "stop responder", "confirm silent")
	if m, err := readMark(c.StateDir, c.Tag); err != nil || !m.found || m.Run {
		t.Errorf("run mark %+v, %v; want found and not running", m, err)
	}
}

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"success", nil, ocf.Success},
		{"not running", ErrNotRunning, ocf.NotRunning},
		{"not started here", errNotStarted, ocf.NotRunning},
		{"resource error, wrapped", fmt.Errorf("restore: %w", &Error{Code: ocf.ErrConfigured, Err: errors.New("x")}), ocf.ErrConfigured},
		{"config error", &config.Error{Param: "port", Msg: "is missing", Code: ocf.ErrConfigured}, ocf.ErrConfigured},
		{"config usage error", &config.Error{Param: "tag", Msg: "is missing", Code: ocf.ErrArgs}, ocf.ErrArgs},
		{"config file missing", &config.Error{Origin: "/etc/ilbvip/t.yaml", Msg: "config file not found", Code: ocf.ErrInstalled}, ocf.ErrInstalled},
		{"responder may not bind", &daemon.StartError{Kind: "perm", Msg: "bind: permission denied"}, ocf.ErrPerm},
		{"responder port in use", &daemon.StartError{Kind: "inuse", Msg: "bind: address in use"}, ocf.ErrGeneric},
		{"interface missing", fmt.Errorf("add vip: %w", vip.ErrNoInterface), ocf.ErrInstalled},
		{"no VIP on this OS", vip.ErrUnsupported, ocf.ErrUnimplemented},
		{"no responder process on this OS", daemon.ErrUnsupported, ocf.ErrUnimplemented},
		{"permission", fmt.Errorf("write pid file: %w", os.ErrPermission), ocf.ErrPerm},
		{"anything else", errors.New("boom"), ocf.ErrGeneric},
	} {
		if got := ExitCode(tc.err); got != tc.want {
			t.Errorf("%s: ExitCode(%v) = %d, want %d", tc.name, tc.err, got, tc.want)
		}
	}
}
