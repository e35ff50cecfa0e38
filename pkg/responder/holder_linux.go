package responder

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// PortHolder names the process holding a listening TCP socket on port, as
// "nginx (pid 4321)", or "" when it cannot be found (no such socket, or the
// holder's /proc/PID/fd is not readable without privileges). It maps the
// socket's inode from /proc/net/tcp and tcp6 to a process through the
// "socket:[inode]" links in /proc/*/fd.
func PortHolder(port uint16) string {
	inodes := make(map[string]bool)
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		listeningInodes(f, port, inodes)
	}
	if len(inodes) == 0 {
		return ""
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return ""
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
			if inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] {
				return fmt.Sprintf("%s (pid %d)", procComm(p.Name()), pid)
			}
		}
	}
	return ""
}

// listeningInodes adds the inodes of sockets in LISTEN state (0A) on port
// from a /proc/net/tcp-format file to inodes.
func listeningInodes(file string, port uint16, inodes map[string]bool) {
	f, err := os.Open(file)
	if err != nil {
		return
	}
	defer f.Close()
	want := fmt.Sprintf(":%04X", port)
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[3] != "0A" || !strings.HasSuffix(fields[1], want) {
			continue
		}
		if fields[9] != "0" {
			inodes[fields[9]] = true
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
