//go:build !linux

package responder

// PortHolder names the process holding a listening TCP socket on port; outside
// Linux it is not looked up and is always "".
func PortHolder(port uint16) string { return "" }
