package testenv

import (
	"testing"

	"golang.org/x/sys/windows"
)

// WritableByOthers gives Everyone full control of path (an explicit,
// unprotected DACL entry), for tests of the kit's refusal of such files.
// Wine keeps no security descriptor and maps Everyone's rights to the
// file's mode bits for others, which gives the same verdict there.
func WritableByOthers(t testing.TB, path string) {
	t.Helper()
	sd, err := windows.SecurityDescriptorFromString("D:(A;OICI;FA;;;WD)(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)")
	if err != nil {
		t.Fatal(err)
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		t.Fatal(err)
	}
	if err := windows.SetNamedSecurityInfo(path, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION, nil, nil, dacl, nil); err != nil {
		t.Fatalf("give Everyone full control of %s: %v", path, err)
	}
}

// WritableByOthersMessage is what the kit says of such a file on this OS.
const WritableByOthersMessage = "lets Everyone (S-1-1-0) write"
