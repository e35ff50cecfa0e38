//go:build !linux && !windows

package vip

import (
	"errors"
	"net/netip"
	"testing"
)

func TestUnsupported(t *testing.T) {
	s := Spec{Addr: netip.MustParseAddr("10.10.5.200"), Prefix: 32, Interface: "eth1"}
	_, _, _, locErr := Locate(s.Addr)
	_, ifErr := Interfaces()
	tests := []struct {
		name string
		err  error
	}{
		{"Add", Add(s)},
		{"Delete", Delete(s)},
		{"Check", Check(s)},
		{"Announce", Announce(s, 1, 0)},
		{"Locate", locErr},
		{"Interfaces", ifErr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, ErrUnsupported) {
				t.Errorf("%s = %v, want ErrUnsupported", tt.name, tt.err)
			}
		})
	}
}
