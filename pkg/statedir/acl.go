package statedir

import "fmt"

// The Windows state directory is judged by its DACL: the decision is here,
// free of Windows calls, so that it runs as a unit test on Linux too (Wine
// 8 stores no security descriptor for files; see statedir_windows.go).

// ace is one entry of a DACL, as the decision needs it.
type ace struct {
	Type  uint8  // ACCESS_ALLOWED_ACE_TYPE, ACCESS_DENIED_ACE_TYPE, ...
	Flags uint8  // OBJECT_INHERIT_ACE, INHERIT_ONLY_ACE, ...
	Mask  uint32 // access rights
	SID   string // S-1-5-18
}

// ACE types and the rights that let a principal plant or replace files in
// a directory, or take it over.
const (
	aceAllowed = 0 // ACCESS_ALLOWED_ACE_TYPE
	aceDenied  = 1 // ACCESS_DENIED_ACE_TYPE

	writeRights = 0x0002 | // FILE_WRITE_DATA, FILE_ADD_FILE
		0x0004 | // FILE_APPEND_DATA, FILE_ADD_SUBDIRECTORY
		0x0040 | // FILE_DELETE_CHILD
		0x00010000 | // DELETE
		0x00040000 | // WRITE_DAC
		0x00080000 | // WRITE_OWNER
		0x02000000 | // MAXIMUM_ALLOWED
		0x10000000 | // GENERIC_ALL
		0x40000000 // GENERIC_WRITE
)

// Principals that may write the state directory besides the user the
// action runs as: SYSTEM, BUILTIN\Administrators, TrustedInstaller, and
// CREATOR OWNER and OWNER RIGHTS, which only ever stand for a creator or
// owner (and that must pass itself).
var trustedSIDs = map[string]bool{
	"S-1-5-18":     true, // SYSTEM
	"S-1-5-32-544": true, // BUILTIN\Administrators
	"S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464": true, // TrustedInstaller
	"S-1-3-0": true, // CREATOR OWNER
	"S-1-3-4": true, // OWNER RIGHTS
}

// guarded is what a DACL is judged for: the state directory, or a file the
// kit trusts (the config file).
type guarded struct {
	kind string // "state directory", "config file": the message's subject
	path string
	dir  bool
}

// fix is the command that protects it, in an error message. SIDs, not
// names: "Administrators" is translated on non-English Windows, while
// *S-1-5-18 (SYSTEM) and *S-1-5-32-544 (BUILTIN\Administrators) are not.
func (g guarded) fix() string {
	inherit := ""
	if g.dir {
		inherit = "(OI)(CI)"
	}
	return fmt.Sprintf(`icacls "%s" /inheritance:r /grant:r "*S-1-5-18:%sF" "*S-1-5-32-544:%sF"`, g.path, inherit, inherit)
}

// judgeDACL refuses a state directory (or a file the kit trusts) that
// someone other than SYSTEM, Administrators, TrustedInstaller or self (the
// SID the action runs as, which can do anything the action does, as the
// owning uid on Linux) may write: an owner outside them (an owner may
// always rewrite the DACL), a NULL DACL (full access for everyone), or an
// allow ACE with a write-type right. Inherit-only ACEs count: they grant
// the same to the files the kit creates in it. Deny ACEs only take rights
// away and are ignored. name gives an account's name for the message (""
// when unknown); it is only asked when refusing, since a domain account's
// lookup may wait for a domain controller.
func judgeDACL(g guarded, owner string, null bool, aces []ace, self string, name func(sid string) string) error {
	trusted := func(sid string) bool { return trustedSIDs[sid] || sid == self }
	principal := func(sid string) string {
		if n := name(sid); n != "" {
			return n + " (" + sid + ")"
		}
		return sid
	}
	if !trusted(owner) {
		return fmt.Errorf("%s %s is owned by %s, not SYSTEM or Administrators: icacls \"%s\" /setowner *S-1-5-32-544 && %s",
			g.kind, g.path, principal(owner), g.path, g.fix())
	}
	if null {
		return fmt.Errorf("%s %s has no DACL (everyone may write it): %s", g.kind, g.path, g.fix())
	}
	for _, a := range aces {
		switch {
		case a.Type == aceDenied, trusted(a.SID):
		case a.Type != aceAllowed:
			return fmt.Errorf("%s %s has an ACE of type %d for %s that ilbvip cannot judge: %s", g.kind, g.path, a.Type, principal(a.SID), g.fix())
		case a.Mask&writeRights != 0:
			return fmt.Errorf("%s %s lets %s write (access mask %#x): %s", g.kind, g.path, principal(a.SID), a.Mask, g.fix())
		}
	}
	return nil
}
