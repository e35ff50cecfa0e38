package statedir

import (
	"strings"
	"testing"
)

// The DACL verdict, on every OS: what a real Windows directory carries
// (SDDL in the comments) against what Ensure and the fix leave.
func TestJudgeDACL(t *testing.T) {
	const (
		dir  = `C:\ProgramData\ilbvip`
		sy   = "S-1-5-18"
		ba   = "S-1-5-32-544"
		bu   = "S-1-5-32-545"
		self = "S-1-5-21-1-2-3-1001"
		full = 0x1f01ff // FA
		rx   = 0x1200a9 // read and execute
		oici = 0x3      // OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE
		io   = 0x8      // INHERIT_ONLY_ACE
		inh  = 0x10     // INHERITED_ACE
	)
	g := guarded{kind: "state directory", path: dir, dir: true}
	names := func(sid string) string { return map[string]string{bu: `BUILTIN\Users`}[sid] }
	protected := []ace{{aceAllowed, oici, full, sy}, {aceAllowed, oici, full, ba}}
	for _, tc := range []struct {
		name   string
		owner  string
		null   bool
		aces   []ace
		reason string // "" when accepted
	}{
		{"Ensure's own D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)", ba, false, protected, ""},
		{"owned by SYSTEM", sy, false, protected, ""},
		{"self with full control (an elevated admin ran it)", self, false, append(protected, ace{aceAllowed, oici, full, self}), ""},
		{"users may read", ba, false, append(protected, ace{aceAllowed, oici | inh, rx, bu}), ""},
		{"CREATOR OWNER inherit-only", ba, false, append(protected, ace{aceAllowed, oici | io | inh, full, "S-1-3-0"}), ""},
		{"deny users write", ba, false, append(protected, ace{aceDenied, oici, full, bu}), ""},
		// ProgramData's inheritance: (A;CIID;DCLCRPCR;;;BU), Users create files and folders.
		{"ProgramData's inherited ACL", ba, false, append(protected, ace{aceAllowed, oici | inh, rx, bu}, ace{aceAllowed, 0x2 | inh, 0x116, bu}), `lets BUILTIN\Users (S-1-5-32-545) write`},
		{"everyone full control inherit-only", ba, false, append(protected, ace{aceAllowed, oici | io, full, "S-1-1-0"}), "lets S-1-1-0 write"},
		{"users GENERIC_WRITE", ba, false, append(protected, ace{aceAllowed, 0, 0x40000000, bu}), "write"},
		{"users WRITE_DAC", ba, false, append(protected, ace{aceAllowed, 0, 0x40000, bu}), "write"},
		{"users delete child", ba, false, append(protected, ace{aceAllowed, 0, 0x40, bu}), "write"},
		{"NULL DACL", ba, true, nil, "no DACL"},
		{"owned by a user", bu, false, protected, `owned by BUILTIN\Users (S-1-5-32-545)`},
		{"an object ACE", ba, false, append(protected, ace{5, 0, rx, bu}), "type 5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := judgeDACL(g, tc.owner, tc.null, tc.aces, self, names)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("got %v, want a refusal with %q", err, tc.reason)
			}
			// One line, naming the directory, ending in the exact fix.
			if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "state directory "+dir) || !strings.HasSuffix(msg, g.fix()) {
				t.Errorf("message %q: want one line naming %s and ending in %s", msg, dir, g.fix())
			}
		})
	}
}

// A config file is judged alike; its fix grants no inheritance.
func TestJudgeDACLFile(t *testing.T) {
	g := guarded{kind: "config file", path: `C:\ProgramData\ilbvip\lbhc-1.yaml`}
	aces := []ace{{aceAllowed, 0, 0x1f01ff, "S-1-5-18"}, {aceAllowed, 0x10, 0x116, "S-1-5-32-545"}}
	err := judgeDACL(g, "S-1-5-32-544", false, aces, "S-1-5-21-1", func(string) string { return "" })
	want := `config file C:\ProgramData\ilbvip\lbhc-1.yaml lets S-1-5-32-545 write (access mask 0x116): icacls "C:\ProgramData\ilbvip\lbhc-1.yaml" /inheritance:r /grant:r "*S-1-5-18:F" "*S-1-5-32-544:F"`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}
