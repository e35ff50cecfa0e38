//go:build !linux && !windows

package responder

// PortHolder names the process holding a listening TCP socket on port; outside
// Linux and Windows it is not looked up and is always "".
func PortHolder(port uint16) string { return "" }

// listening finds nothing: no responder runs on this OS.
func listening(uint16) ([]Holder, error) { return nil, nil }
