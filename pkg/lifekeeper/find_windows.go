package lifekeeper

import "os"

// findInsList returns p.exe: LifeKeeper for Windows' commands are
// executables (C:\LK\bin\ins_list.exe, see DefaultRoot). A file named
// exactly ins_list, with no extension, is no program Windows can start, and
// PATHEXT's other extensions (.js, .vbs, ...) are not run by CreateProcess,
// so neither counts.
//
// SIOS documents ins_list's command line ("ins_list [-d destsys] [-fC] [-R
// top] [-a appname] [-r typ] [-t tag] [-i id]") for LifeKeeper for Linux
// (docs.us.sios.com/sps/8.7.0/en/topic/lcdi-instances); LifeKeeper for
// Windows' own page for it was not found, so the .exe name is unchecked
// against a running LifeKeeper for Windows (README.md, "Windows").
func findInsList(p string) (string, bool) {
	name := p + ".exe"
	if fi, err := os.Stat(name); err == nil && fi.Mode().IsRegular() {
		return name, true
	}
	return "", false
}
