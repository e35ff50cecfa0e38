package daemon

import (
	"io"
	"log/syslog"
	"os"
	"os/signal"
	"syscall"

	"github.com/sirupsen/logrus"
	lsyslog "github.com/sirupsen/logrus/hooks/syslog"
	"golang.org/x/sys/unix"
)

const noFollow = unix.O_NOFOLLOW

// setProcessName sets the name ps -e shows (comm, 15 bytes at most); the
// full command line already says ilbvip-responder and the tag.
func setProcessName(name string) {
	if len(name) > 15 {
		name = name[:15]
	}
	// /proc/self is the thread-group leader, so this names the process.
	_ = os.WriteFile("/proc/self/comm", []byte(name), 0)
}

// notifyStop delivers TERM and INT; HUP is ignored (the responder has no
// terminal, and an admin's stray HUP must not silence the probe).
func notifyStop() (<-chan os.Signal, error) {
	signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE)
	c := make(chan os.Signal, 2)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	return c, nil
}

// ReadyFile is the responder's end of the readiness pipe: Start passes it
// as file descriptor 3 (ExtraFiles).
func ReadyFile() *os.File { return os.NewFile(3, "ready") }

// useSyslog sends the log to syslog when a syslog daemon listens.
func useSyslog(l *logrus.Logger, tag string) bool {
	if _, err := os.Stat("/dev/log"); err != nil {
		return false
	}
	h, err := lsyslog.NewSyslogHook("", "", syslog.LOG_DAEMON|syslog.LOG_INFO, "ilbvip-"+tag)
	if err != nil {
		return false
	}
	l.AddHook(h)
	l.SetOutput(io.Discard)
	return true
}
