//go:build !linux && !windows

package daemon

import (
	"context"
	"os"
	"os/signal"
	"time"

	"github.com/sirupsen/logrus"
)

const noFollow = 0

// Start is not supported on this OS yet.
func Start(context.Context, string, Spec) (*Record, error) { return nil, ErrUnsupported }

// Stop is not supported on this OS yet.
func Stop(context.Context, string, string) ([]int, error) { return nil, ErrUnsupported }

// StopDrained is not supported on this OS yet.
func StopDrained(context.Context, string, string, time.Duration) ([]int, error) {
	return nil, ErrUnsupported
}

// Inspect cannot tell on this OS: it says dead.
func Inspect(*Record) State { return Dead }

// BootToken is unknown on this OS.
func BootToken() string { return "" }

// SameBoot cannot tell on this OS: the same boot.
func SameBoot(string) bool { return true }

// FindResponders finds nothing on this OS.
func FindResponders(string, string) []int { return nil }

func recordSelf() (*Record, error) { return nil, ErrUnsupported }

func setProcessName(string) {}

func notifyStop() (<-chan os.Signal, error) {
	c := make(chan os.Signal, 2)
	signal.Notify(c, os.Interrupt)
	return c, nil
}

// ReadyFile: no readiness pipe on this OS (Start is not supported).
func ReadyFile() *os.File { return nil }

func useSyslog(*logrus.Logger, string) bool { return false }

// Responders finds nothing on this OS.
func Responders() []Responder { return nil }
