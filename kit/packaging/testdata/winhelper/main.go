//go:build windows

// Command winhelper plays the other Windows programs of the MSI tests under
// Wine (kit/packaging/wine_linux_test.go); it is built there, never shipped.
//
//	winhelper listen PORT FILE   holds TCP PORT (a stranger on the probe port)
//	winhelper sleep FILE         a live process that is not a responder
//	ins_list.exe -t TAG -f:      LifeKeeper's ins_list: prints one resource
//	                             line whose info field is ins_list.txt's
//	                             content (next to the executable)
//
// listen and sleep write "pid=N\nstart=FILETIME\n" to FILE once ready, then
// block until killed.
package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/windows"
)

func main() {
	if strings.EqualFold(filepath.Base(os.Args[0]), "ins_list.exe") {
		insList(os.Args[1:])
		return
	}
	if len(os.Args) < 3 {
		fail("usage: winhelper listen PORT FILE | sleep FILE")
	}
	switch os.Args[1] {
	case "listen":
		ln, err := net.Listen("tcp", ":"+os.Args[2])
		if err != nil {
			fail(err.Error())
		}
		defer ln.Close()
		ready(os.Args[3])
	case "sleep":
		ready(os.Args[2])
	default:
		fail("unknown mode " + os.Args[1])
	}
	// Not select{}: with no other goroutine the runtime calls that a deadlock.
	for {
		time.Sleep(time.Hour)
	}
}

// ready writes this process's identity (pid, creation FILETIME) to file.
func ready(file string) {
	var created, exited, kernel, user windows.Filetime
	if err := windows.GetProcessTimes(windows.CurrentProcess(), &created, &exited, &kernel, &user); err != nil {
		fail(err.Error())
	}
	ft := uint64(created.HighDateTime)<<32 | uint64(created.LowDateTime)
	s := fmt.Sprintf("pid=%d\nstart=%d\n", os.Getpid(), ft)
	if err := os.WriteFile(file, []byte(s), 0o600); err != nil {
		fail(err.Error())
	}
}

func insList(args []string) {
	if len(args) != 3 || args[0] != "-t" || args[2] != "-f:" {
		fail("usage: ins_list -t TAG -f:")
	}
	exe, _ := os.Executable()
	info, err := os.ReadFile(filepath.Join(filepath.Dir(exe), "ins_list.txt"))
	if err != nil {
		fail(err.Error())
	}
	// LifeKeeper's field order: system, app, type, tag, id, info, ...
	fmt.Printf("%s:gen:app:%s:%s:%s:ISP\r\n", hostname(), args[1], args[1], strings.TrimSpace(string(info)))
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "winhelper:", msg)
	os.Exit(2)
}
