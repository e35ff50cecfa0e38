package statedir

import (
	"strings"
	"testing"

	"golang.org/x/sys/windows"

	"github.com/ilbvip/ilbvip/internal/testenv"
)

// writableFix is in the refusal of a directory others may write.
const writableFix = `icacls "`

// checkPrivate: Ensure left only SYSTEM, Administrators and the test's own
// user in dir's DACL (under Wine, which derives the DACL from Unix mode
// bits, SYSTEM and the user).
func checkPrivate(t *testing.T, dir string) {
	t.Helper()
	self, err := tokenUser()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range readDACL(t, dir) {
		if a.SID != "S-1-5-18" && a.SID != "S-1-5-32-544" && a.SID != self {
			t.Errorf("%s: ACE %+v for someone else", dir, a)
		}
	}
}

// makeWritable gives Everyone full control of dir.
func makeWritable(t *testing.T, dir string) {
	t.Helper()
	setDACL(t, dir, "D:(A;OICI;FA;;;WD)")
}

// A directory Ensure creates carries exactly the protected DACL. Wine 8
// cannot pass this (it keeps no security descriptor for files).
func TestEnsureProtectsNewDir(t *testing.T) {
	dir := testenv.TempDir(t) + `\state`
	if err := Ensure(dir); err != nil {
		t.Fatal(err)
	}
	sd, err := windows.GetNamedSecurityInfo(dir, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		t.Fatal(err)
	}
	want, err := windows.SecurityDescriptorFromString(protectedSDDL)
	if err != nil {
		t.Fatal(err)
	}
	if sd.String() != want.String() {
		t.Errorf("DACL %s, want %s", sd, want)
	}
}

// Ensure judges an existing directory and never rewrites its DACL: one that
// lets Users create files (as ProgramData's inheritance does) is refused
// with the icacls fix, and passes once that fix is applied.
func TestEnsureRefusesUsersWrite(t *testing.T) {
	dir := testenv.TempDir(t) + `\state`
	if err := Ensure(dir); err != nil {
		t.Fatal(err)
	}
	setDACL(t, dir, "D:(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;FA;;;BU)")
	err := Ensure(dir)
	fix := guarded{kind: "state directory", path: dir, dir: true}.fix()
	if err == nil || !strings.Contains(err.Error(), fix) {
		t.Fatalf("Users may write: %v, want the fix %s", err, fix)
	}
	setDACL(t, dir, protectedSDDL)
	if err := Ensure(dir); err != nil {
		t.Fatalf("after the fix: %v", err)
	}
}

func readDACL(t *testing.T, dir string) []ace {
	t.Helper()
	sd, err := windows.GetNamedSecurityInfo(dir, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		t.Fatal(err)
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		t.Fatal(err)
	}
	aces, err := daclEntries(dacl)
	if err != nil {
		t.Fatal(err)
	}
	return aces
}

// setDACL sets dir's DACL from SDDL (protected when it starts "D:P").
func setDACL(t *testing.T, dir, sddl string) {
	t.Helper()
	sd, err := windows.SecurityDescriptorFromString(sddl)
	if err != nil {
		t.Fatal(err)
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		t.Fatal(err)
	}
	info := windows.SECURITY_INFORMATION(windows.DACL_SECURITY_INFORMATION)
	if strings.HasPrefix(sddl, "D:P") {
		info |= windows.PROTECTED_DACL_SECURITY_INFORMATION
	}
	if err := windows.SetNamedSecurityInfo(dir, windows.SE_FILE_OBJECT, info, nil, nil, dacl, nil); err != nil {
		t.Fatal(err)
	}
}
