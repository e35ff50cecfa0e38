//go:build !windows && !linux

package doctor

// checkWeakHost: the weak host model is a Windows setting (Linux accepts
// and sends packets for any local address on any interface).
func checkWeakHost(*node) []Check { return nil }
