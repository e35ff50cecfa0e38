package lifekeeper

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// The ins_list a test installs (writeInsList) behaves as one of these.
const (
	fakeAnswer = "answer" // checks -t TAG -f: and prints TAG's line with info "12345 hello"
	fakeBroken = "broken" // prints "broken" to stderr and exits 3
	fakeEmpty  = "empty"  // prints nothing
	fakeHung   = "hung"   // never answers
)

// fakeInsListEnv makes the test binary itself act as ins_list (see
// TestMain): Windows cannot run a shell script, and no compiler runs under
// Wine, so writeInsList installs a copy of the test binary there.
const fakeInsListEnv = "ILBVIP_FAKE_INS_LIST"

func TestMain(m *testing.M) {
	if mode, ok := os.LookupEnv(fakeInsListEnv); ok {
		os.Exit(fakeInsList(mode, os.Args[1:]))
	}
	os.Exit(m.Run())
}

func fakeInsList(mode string, args []string) int {
	switch mode {
	case fakeAnswer:
		if len(args) != 3 || args[0] != "-t" || args[2] != "-f:" {
			fmt.Fprintln(os.Stderr, "usage")
			return 2
		}
		fmt.Printf("node1:gen:app:%s:id1:12345 hello:ISP\n", args[1])
	case fakeBroken:
		fmt.Fprintln(os.Stderr, "broken")
		return 3
	case fakeHung:
		time.Sleep(60 * time.Second)
	}
	return 0
}
