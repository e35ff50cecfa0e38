//go:build !linux && !windows

package doctor

// portHolderSupported: no port holder lookup on this OS.
const portHolderSupported = false
