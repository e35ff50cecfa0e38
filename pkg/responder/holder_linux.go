package responder

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// PortHolder names the process holding a listening TCP socket on port, as
// "nginx (pid 4321)", or "" when it cannot be found (no such socket, or the
// holder's /proc/PID/fd is not readable without privileges). Loopback
// listeners count here: they still keep the responder from binding.
func PortHolder(port uint16) string {
	hs, _ := listeners(port, true)
	for _, h := range hs {
		if h.Pid != 0 {
			return h.String()
		}
	}
	return ""
}

// listening reads /proc/net/tcp and tcp6 (this network namespace's
// sockets) for listeners on port, skipping loopback ones.
func listening(port uint16) ([]Holder, error) { return listeners(port, false) }

// listeners finds the sockets in LISTEN state on port and maps each to its
// process through the "socket:[inode]" links in /proc/*/fd.
func listeners(port uint16, loopback bool) ([]Holder, error) {
	byInode := map[string]*Holder{}
	var order []string
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		if err := listeningSockets(f, port, loopback, byInode, &order); err != nil {
			return nil, err
		}
	}
	if len(order) > 0 {
		ownersOf(byInode)
	}
	out := make([]Holder, 0, len(order))
	for _, ino := range order {
		out = append(out, *byInode[ino])
	}
	return out, nil
}

// listeningSockets adds the sockets in LISTEN state (0A) on port from a
// /proc/net/tcp-format file, keyed by inode. A missing tcp6 file (IPv6
// disabled) is no error.
func listeningSockets(file string, port uint16, loopback bool, byInode map[string]*Holder, order *[]string) error {
	f, err := os.Open(file)
	if os.IsNotExist(err) && strings.HasSuffix(file, "6") {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read sockets: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[3] != "0A" {
			continue
		}
		ap, ok := parseProcAddr(fields[1])
		if !ok || ap.Port() != port || !loopback && ap.Addr().Unmap().IsLoopback() {
			continue
		}
		ino := fields[9]
		if _, dup := byInode[ino]; !dup {
			byInode[ino] = &Holder{Addr: ap}
			*order = append(*order, ino)
		}
	}
	return sc.Err()
}

// parseProcAddr reads "0100007F:3039" (IPv4) or the 32-digit IPv6 form:
// the address in 32-bit words of host byte order, the port in hex.
func parseProcAddr(s string) (netip.AddrPort, bool) {
	a, p, ok := strings.Cut(s, ":")
	port, err := strconv.ParseUint(p, 16, 16)
	raw, herr := hex.DecodeString(a)
	if !ok || err != nil || herr != nil || len(raw) != 4 && len(raw) != 16 {
		return netip.AddrPort{}, false
	}
	for i := 0; i < len(raw); i += 4 { // each word to network order
		binary.BigEndian.PutUint32(raw[i:], binary.LittleEndian.Uint32(raw[i:]))
	}
	addr, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(addr, uint16(port)), true
}

// ownersOf fills Pid and Name of the holders whose socket a process has
// open; those of processes we may not read stay unknown.
func ownersOf(byInode map[string]*Holder) {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		fdDir := filepath.Join("/proc", p.Name(), "fd")
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue // gone, or not ours to read
		}
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
			if err != nil || !strings.HasPrefix(link, "socket:[") {
				continue
			}
			if h := byInode[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")]; h != nil && h.Pid == 0 {
				h.Pid, h.Name = pid, procComm(p.Name())
			}
		}
	}
}

func procComm(pid string) string {
	b, err := os.ReadFile(filepath.Join("/proc", pid, "comm"))
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}
