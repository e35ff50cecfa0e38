//go:build !windows

package lifekeeper

import (
	"os/exec"
	"syscall"
)

// ownGroup runs cmd in a process group of its own, and cancelling kills
// that group: ins_list is often a shell script whose children would
// otherwise outlive it.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}
