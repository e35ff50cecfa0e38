package vip

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

func TestSpecString(t *testing.T) {
	tests := []struct {
		name string
		s    Spec
		want string
	}{
		{"ipv4", Spec{Addr: netip.MustParseAddr("10.10.5.200"), Prefix: 32, Interface: "eth1"}, "10.10.5.200/32 on eth1"},
		{"ipv6", Spec{Addr: netip.MustParseAddr("2001:db8::5"), Prefix: 128, Interface: "eth0"}, "2001:db8::5/128 on eth0"},
		{"no interface", Spec{Addr: netip.MustParseAddr("10.0.0.1"), Prefix: 24}, "10.0.0.1/24"},
		{"zero", Spec{}, "<no address>/0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSpecValidate(t *testing.T) {
	v4 := netip.MustParseAddr("10.10.5.200")
	v6 := netip.MustParseAddr("2001:db8::5")
	tests := []struct {
		name    string
		s       Spec
		wantErr string // "" = valid
	}{
		{"ipv4 /32", Spec{Addr: v4, Prefix: 32, Interface: "eth0"}, ""},
		{"ipv4 /1", Spec{Addr: v4, Prefix: 1, Interface: "eth0"}, ""},
		{"ipv6 /128", Spec{Addr: v6, Prefix: 128, Interface: "eth0"}, ""},
		{"ipv4 /33", Spec{Addr: v4, Prefix: 33, Interface: "eth0"}, "prefix /33 out of range 1..32"},
		{"ipv4 /0", Spec{Addr: v4, Prefix: 0, Interface: "eth0"}, "prefix /0 out of range 1..32"},
		{"ipv6 /129", Spec{Addr: v6, Prefix: 129, Interface: "eth0"}, "out of range 1..128"},
		{"no address", Spec{Prefix: 32, Interface: "eth0"}, "no address"},
		{"no interface", Spec{Addr: v4, Prefix: 32}, "no interface"},
		{"zone", Spec{Addr: netip.MustParseAddr("fe80::1%eth0"), Prefix: 128, Interface: "eth0"}, "has a zone"},
		{"mapped", Spec{Addr: netip.MustParseAddr("::ffff:10.0.0.1"), Prefix: 128, Interface: "eth0"}, "IPv4-mapped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.s.validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("validate() = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestErrorMessages(t *testing.T) {
	ip := netip.MustParseAddr("10.10.5.200")
	tests := []struct {
		name   string
		err    error
		want   string
		is     error // errors.Is must hold, if set
		isNot  error // errors.Is must not hold, if set
		asElse bool  // errors.As *ElsewhereError must hold
	}{
		{
			name:   "elsewhere",
			err:    fmt.Errorf("add vip x: %w", &ElsewhereError{Addr: ip, Interface: "eth0", Want: "eth1"}),
			want:   "add vip x: 10.10.5.200 is already on eth0, not on eth1, and ilbvip never moves an address: if the VIP belongs on eth0, set interface to it; if 10.10.5.200 is an address of the node there, set vip to the load balancer's frontend IP",
			asElse: true,
		},
		{
			name: "prefix",
			err:  &PrefixError{Addr: ip, Interface: "eth1", Have: 24, Want: 32},
			want: "10.10.5.200 is an address of this node (10.10.5.200/24 on eth1), not a VIP: set vip to the load balancer's frontend IP",
		},
		{
			name:  "no interface",
			err:   fmt.Errorf("add vip 10.10.5.200/32 on eth9: %w", &noInterfaceError{Name: "eth9", Have: []string{"eth0", "eth1"}}),
			want:  `add vip 10.10.5.200/32 on eth9: interface "eth9" not found (this node has: eth0, eth1)`,
			is:    ErrNoInterface,
			isNot: ErrMissing,
		},
		{
			name: "no interface, listing failed",
			err:  &noInterfaceError{Name: "eth9", ListErr: errors.New("boom")},
			want: `interface "eth9" not found (listing interfaces failed: boom)`,
			is:   ErrNoInterface,
		},
		{
			name:  "down",
			err:   fmt.Errorf("check vip x: %w", &interfaceDownError{Name: "eth1", Reason: "administratively down (IFF_UP off)"}),
			want:  "check vip x: interface eth1 is down: administratively down (IFF_UP off): bring it up (a cable, the cloud NIC, ip link set eth1 up) or set interface to the NIC that carries the VIP",
			is:    ErrInterfaceDown,
			isNot: ErrNoInterface,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() =\n  %q\nwant\n  %q", got, tt.want)
			}
			if tt.is != nil && !errors.Is(tt.err, tt.is) {
				t.Errorf("errors.Is(%v) = false", tt.is)
			}
			if tt.isNot != nil && errors.Is(tt.err, tt.isNot) {
				t.Errorf("errors.Is(%v) = true", tt.isNot)
			}
			var ee *ElsewhereError
			if got := errors.As(tt.err, &ee); got != tt.asElse {
				t.Errorf("errors.As(*ElsewhereError) = %t, want %t", got, tt.asElse)
			}
		})
	}
}
