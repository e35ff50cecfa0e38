package lifekeeper

import "os/exec"

// ownGroup leaves cmd as it is on Windows: cancelling kills ins_list.exe
// itself, and WaitDelay bounds the wait for anything it started.
func ownGroup(*exec.Cmd) {}
