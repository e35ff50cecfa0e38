package daemon

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"unsafe"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/windows"
)

// Files are opened without a symlink check on Windows: the state
// directory's ACL (administrators only) is what protects it.
const noFollow = 0

// setProcessName: Windows shows the image name (restore.exe); the command
// line (ilbvip-responder serve --tag TAG ...) says what the process is.
func setProcessName(string) {}

// useSyslog: Windows has no syslog; the responder logs to STATE_DIR\TAG.log.
func useSyslog(*logrus.Logger, string) bool { return false }

// stopEventSDDL lets only SYSTEM and the Administrators set (or open) the
// stop event: nobody else can silence the probe.
const stopEventSDDL = "D:P(A;;GA;;;SY)(A;;GA;;;BA)"

// stopSignal is the stop event, delivered like a signal so that Serve
// handles it as TERM on Linux.
type stopSignal struct{}

func (stopSignal) String() string { return "stop event" }
func (stopSignal) Signal()        {}

// notifyStop creates this process's stop event (stopEventName) and delivers
// each setting of it. A detached process has no console, so there is no
// Ctrl+C or Ctrl+Break to send it, and TerminateProcess gives it no chance
// to close the listener first; a named event is what a service control
// handler would use too. The event auto-resets: a second Stop during an
// HTTP drain delivers a second "signal" and ends the drain, as a second
// TERM does on Linux. os.Interrupt still works for a responder run by hand
// in a console. An event of that name that already exists belongs to
// someone else and is refused.
func notifyStop() (<-chan os.Signal, error) {
	sd, err := windows.SecurityDescriptorFromString(stopEventSDDL)
	if err != nil {
		return nil, fmt.Errorf("stop event security descriptor: %w", err)
	}
	sa := &windows.SecurityAttributes{SecurityDescriptor: sd}
	sa.Length = uint32(unsafe.Sizeof(*sa))
	name := stopEventName(os.Getpid())
	namep, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return nil, err
	}
	ev, err := windows.CreateEvent(sa, 0, 0, namep)
	if errors.Is(err, windows.ERROR_ALREADY_EXISTS) {
		_ = windows.CloseHandle(ev)
		return nil, fmt.Errorf("stop event %s already exists: another program created it; restart the responder", name)
	}
	if err != nil {
		return nil, fmt.Errorf("create stop event %s: %w", name, err)
	}
	c := make(chan os.Signal, 2)
	signal.Notify(c, os.Interrupt)
	go func() {
		// The handle lives as long as the process: the event must stay
		// openable by Stop.
		for {
			r, err := windows.WaitForSingleObject(ev, windows.INFINITE)
			if err != nil || r != windows.WAIT_OBJECT_0 {
				return
			}
			c <- stopSignal{}
		}
	}()
	return c, nil
}

// ReadyFile is the responder's end of the readiness pipe: Start passes the
// inherited handle's value in ReadyHandleEnv (Windows has no fd 3). The
// variable is cleared so nothing the responder might start inherits it.
func ReadyFile() *os.File {
	h, ok := parseReadyHandle(os.Getenv(ReadyHandleEnv))
	_ = os.Unsetenv(ReadyHandleEnv)
	if !ok {
		return nil
	}
	// The handle is not inherited further.
	_ = windows.SetHandleInformation(windows.Handle(h), windows.HANDLE_FLAG_INHERIT, 0)
	return os.NewFile(h, "ready")
}
