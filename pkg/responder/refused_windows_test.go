package responder

import "golang.org/x/sys/windows"

// errRefused is the error of a connect to a port where nothing listens:
// Winsock's own code, which syscall.ECONNREFUSED (a Go invention on
// Windows) does not match. Its text differs too: Windows says "No
// connection could be made because the target machine actively refused
// it.", Wine "Connection refused.".
var errRefused error = windows.WSAECONNREFUSED
