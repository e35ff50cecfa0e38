package netnsrun

// The paths NotHost reads, for nothost_linux_test.go (package
// netnsrun_test, as it imports testenv, which imports this package).
var (
	NamedDirs = &namedDirs
	ProcRoot  = &procRoot
)
