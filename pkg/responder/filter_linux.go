package responder

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

// The kernel runs a listening socket's filter on every SYN (and accepted
// sockets inherit it), so a classic BPF program that drops other sources
// stops a disallowed load balancer's probe before the handshake completes.
// A user-space check after accept would be too late for a TCP probe, which
// succeeds on the handshake alone.

const (
	// skfNetOff makes a load offset relative to the network header: the
	// socket filter sees the packet from the TCP header on.
	skfNetOff    = -0x100000
	filterAccept = 0xFFFFFFFF
	filterDrop   = 0
	// maxFilterPrefixes is Options.Allow plus the implicit sources.
	maxFilterPrefixes = MaxAllow + 3
)

func netOff(k int32) uint32 { return uint32(skfNetOff + k) }

func stmt(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }

func jeq(k uint32, jt, jf uint8) unix.SockFilter {
	return unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: jt, Jf: jf, K: k}
}

func ret(k uint32) unix.SockFilter { return stmt(unix.BPF_RET|unix.BPF_K, k) }

// filterProgram returns a classic BPF socket filter that accepts packets
// whose source is in allow and drops all others. It dispatches on the IP
// version nibble, since a dual-stack socket receives IPv4 packets with IPv4
// headers; v4-mapped prefixes therefore match as IPv4.
//
// Layout: a 7-instruction header jumps (with BPF_JA, whose offset is 32
// bits) to the IPv4 or IPv6 section; each section is a run of self-contained
// per-prefix blocks ending in "ret accept", followed by "ret drop". The only
// conditional jumps skip to the end of their own block (at most 11
// instructions), so no uint8 jump offset can overflow however many prefixes
// there are; the prefix limit only bounds the program's size.
func filterProgram(allow []netip.Prefix) ([]unix.SockFilter, error) {
	if len(allow) == 0 {
		return nil, errors.New("no prefixes to allow")
	}
	if len(allow) > maxFilterPrefixes {
		return nil, fmt.Errorf("%d prefixes, at most %d", len(allow), maxFilterPrefixes)
	}
	var v4, v6 []unix.SockFilter
	for _, p := range allow {
		if !p.IsValid() {
			return nil, fmt.Errorf("prefix %q is not valid", p.String())
		}
		p = normalPrefix(p)
		if p.Addr().Is4() {
			v4 = append(v4, prefixBlock(p, 12)...)
		} else {
			v6 = append(v6, prefixBlock(p, 8)...)
		}
	}
	v4 = append(v4, ret(filterDrop))
	v6 = append(v6, ret(filterDrop))

	prog := []unix.SockFilter{
		stmt(unix.BPF_LD|unix.BPF_B|unix.BPF_ABS, netOff(0)), // version and IHL
		stmt(unix.BPF_ALU|unix.BPF_RSH|unix.BPF_K, 4),
		jeq(4, 0, 1),
		stmt(unix.BPF_JMP|unix.BPF_JA, 3), // to the IPv4 section at 7
		jeq(6, 0, 1),
		stmt(unix.BPF_JMP|unix.BPF_JA, uint32(1+len(v4))), // to the IPv6 section
		ret(filterDrop), // neither IPv4 nor IPv6
	}
	prog = append(prog, v4...)
	prog = append(prog, v6...)
	if len(prog) > 4096 { // BPF_MAXINSNS; unreachable with maxFilterPrefixes
		return nil, fmt.Errorf("filter of %d instructions is too long", len(prog))
	}
	return prog, nil
}

// prefixBlock matches the source address at network offset off (12 for
// IPv4, 8 for IPv6) against p one 32-bit word at a time and accepts on a
// full match; a mismatch jumps past the block to the next prefix.
func prefixBlock(p netip.Prefix, off int32) []unix.SockFilter {
	a := p.Addr().AsSlice()
	var b []unix.SockFilter
	var jumps []int // indexes of the jeq whose false branch leaves the block
	for w := 0; w*32 < p.Bits(); w++ {
		bits := min(p.Bits()-w*32, 32)
		mask := ^uint32(0) << (32 - bits)
		b = append(b, stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, netOff(off+int32(4*w))))
		if bits < 32 {
			b = append(b, stmt(unix.BPF_ALU|unix.BPF_AND|unix.BPF_K, mask))
		}
		jumps = append(jumps, len(b))
		b = append(b, jeq(binary.BigEndian.Uint32(a[4*w:])&mask, 0, 0))
	}
	b = append(b, ret(filterAccept))
	for _, j := range jumps {
		b[j].Jf = uint8(len(b) - 1 - j)
	}
	return b
}

// filterControl returns a net.ListenConfig.Control that attaches the filter
// for allow after the socket is created and before it is bound, so that no
// SYN from another source is ever queued.
func filterControl(allow []netip.Prefix) (func(network, address string, c syscall.RawConn) error, error) {
	prog, err := filterProgram(allow)
	if err != nil {
		return nil, err
	}
	return func(_, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
			serr = unix.SetsockoptSockFprog(int(fd), unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog)
		})
		if err == nil {
			err = serr
		}
		if err != nil {
			return fmt.Errorf("attach socket filter on %s: %w", address, err)
		}
		return nil
	}, nil
}

func isAddrInUse(err error) bool { return errors.Is(err, unix.EADDRINUSE) }

func isAddrNotAvail(err error) bool { return errors.Is(err, unix.EADDRNOTAVAIL) }
