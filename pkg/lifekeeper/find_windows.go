package lifekeeper

import "os/exec"

// findInsList resolves p as cmd.exe would resolve a command typed without
// its extension: p with each extension of PATHEXT (.EXE, .CMD, .BAT, ...).
// A file named exactly ins_list, with no extension, is not a program that
// Windows can start, so it does not count.
//
// LifeKeeper for Windows' own documentation of ins_list was not found
// (SIOS documents the LCDI command "ins_list [-d destsys] [-fC] [-R top]
// [-a appname] [-r typ] [-t tag] [-i id]" for LifeKeeper for Linux,
// docs.us.sios.com/sps/8.7.0/en/topic/lcdi-instances); whichever of
// ins_list.exe or a script LifeKeeper for Windows has in %LKROOT%\bin, this
// finds it, and README.md ("Windows") says the name is unchecked.
func findInsList(p string) (string, bool) {
	found, err := exec.LookPath(p)
	if err != nil {
		return "", false
	}
	return found, true
}
