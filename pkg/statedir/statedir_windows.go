package statedir

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// The state directory's DACL protects it (Windows has no mode bits): Ensure
// creates a missing directory with protectedSDDL, and Check refuses one that
// anyone but SYSTEM, Administrators, TrustedInstaller or the action's own
// user may write (judgeDACL), naming the icacls line that fixes it.
//
// A directory that exists is judged, never rewritten: %ProgramData%\ilbvip
// as the MSI (or New-Item) leaves it inherits ProgramData's ACL, which lets
// BUILTIN\Users create files in it, so restore and quickCheck refuse it until
// the administrator runs the icacls line from README.md ("Windows"), which
// the install steps already include. Fixing it silently would keep whatever
// a user planted there before (a TAG.yaml is read as the config) and would
// undo an ACL an administrator chose; the refusal costs one copied line, and
// quickCheck shows it on a standby node before a failover needs it.

// protectedSDDL is the DACL that Ensure gives a state directory it creates and
// that the fix in the messages sets: SYSTEM and Administrators full
// control, inherited by files and subdirectories, nothing inherited from
// the parent.
const protectedSDDL = "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"

// mkdirPrivate creates dir with the protected DACL; an existing dir is
// left as it is.
func mkdirPrivate(dir string) error {
	sd, err := windows.SecurityDescriptorFromString(protectedSDDL)
	if err != nil {
		return fmt.Errorf("create state directory %s: %w", dir, err)
	}
	sa := &windows.SecurityAttributes{Length: uint32(unsafe.Sizeof(windows.SecurityAttributes{})), SecurityDescriptor: sd}
	p, err := windows.UTF16PtrFromString(dir)
	if err != nil {
		return fmt.Errorf("create state directory %s: %w", dir, err)
	}
	if err := windows.CreateDirectory(p, sa); err != nil && !errors.Is(err, windows.ERROR_ALREADY_EXISTS) {
		return fmt.Errorf("create state directory %s: %w", dir, err)
	}
	return nil
}

// checkOwner judges dir's owner and DACL (judgeDACL).
func checkOwner(dir string, _ fs.FileInfo) error {
	return checkSecurity(guarded{kind: "state directory", path: dir, dir: true})
}

// CheckFile refuses a file the kit trusts (the config file) that anyone but
// SYSTEM, Administrators, TrustedInstaller or the user running the action
// may write, as Linux refuses one writable by group or others; the error
// is one line ending in the icacls command that fixes it.
func CheckFile(kind, path string) error {
	return checkSecurity(guarded{kind: kind, path: path})
}

// checkSecurity reads g's owner and DACL and judges them (judgeDACL).
func checkSecurity(g guarded) error {
	sd, err := windows.GetNamedSecurityInfo(g.path, windows.SE_FILE_OBJECT, windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return fmt.Errorf("%s %s: read its security descriptor: %w", g.kind, g.path, err)
	}
	owner, _, err := sd.Owner()
	if err != nil || owner == nil {
		return fmt.Errorf("%s %s: read its owner: %v", g.kind, g.path, err)
	}
	self, err := tokenUser()
	if err != nil {
		return fmt.Errorf("%s %s: %w", g.kind, g.path, err)
	}
	dacl, _, err := sd.DACL()
	null := errors.Is(err, windows.ERROR_OBJECT_NOT_FOUND) || (err == nil && dacl == nil)
	if err != nil && !null {
		return fmt.Errorf("%s %s: read its DACL: %w", g.kind, g.path, err)
	}
	aces, err := daclEntries(dacl)
	if err != nil {
		return fmt.Errorf("%s %s: %w", g.kind, g.path, err)
	}
	return judgeDACL(g, owner.String(), null, aces, self, accountName)
}

// daclEntries lists an ACL's entries (nil for a NULL DACL).
func daclEntries(dacl *windows.ACL) ([]ace, error) {
	if dacl == nil {
		return nil, nil
	}
	aces := make([]ace, 0, dacl.AceCount)
	for i := uint32(0); i < uint32(dacl.AceCount); i++ {
		var a *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &a); err != nil {
			return nil, fmt.Errorf("read ACE %d: %w", i, err)
		}
		e := ace{Type: a.Header.AceType, Flags: a.Header.AceFlags, Mask: uint32(a.Mask)}
		// Allowed and denied ACEs share this layout; others are judged by type alone.
		if e.Type == aceAllowed || e.Type == aceDenied {
			e.SID = (*windows.SID)(unsafe.Pointer(&a.SidStart)).String()
		}
		aces = append(aces, e)
	}
	return aces, nil
}

// tokenUser is the SID the process runs as.
func tokenUser() (string, error) {
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return "", fmt.Errorf("read the process's user: %w", err)
	}
	return u.User.Sid.String(), nil
}

// accountName is DOMAIN\name for the message, or "" when unknown.
func accountName(s string) string {
	sid, err := windows.StringToSid(s)
	if err != nil {
		return ""
	}
	account, domain, _, err := sid.LookupAccount("")
	switch {
	case err != nil:
		return ""
	case domain == "":
		return account
	}
	return domain + `\` + account
}

// openNoFollow opens path itself, never what a symlink or junction there
// points to: CreateFile with FILE_FLAG_OPEN_REPARSE_POINT opens a reparse
// point as such, and a handle that is one is refused, with no window
// between the check and the open. Sharing as os.OpenFile (read and write,
// no delete: a lock file open in another action cannot be deleted under
// it).
func openNoFollow(path string, flag int, _ os.FileMode) (*os.File, error) {
	h, err := createFile(path, flag)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	var info windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(h, &info); err != nil {
		windows.CloseHandle(h)
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	if info.FileAttributes&windows.FILE_ATTRIBUTE_REPARSE_POINT != 0 {
		windows.CloseHandle(h)
		return nil, fmt.Errorf("open %s: is a symlink or junction (a reparse point)", path)
	}
	f := os.NewFile(uintptr(h), path)
	if flag&os.O_TRUNC != 0 {
		if err := f.Truncate(0); err != nil {
			f.Close()
			return nil, err
		}
	}
	return f, nil
}

// createFile opens path for os.OpenFile's flag, without truncating (that
// waits until the handle is known not to be a reparse point).
func createFile(path string, flag int) (windows.Handle, error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return windows.InvalidHandle, err
	}
	var access uint32 = windows.GENERIC_READ
	switch flag & (os.O_RDONLY | os.O_WRONLY | os.O_RDWR) {
	case os.O_WRONLY:
		access = windows.GENERIC_WRITE
	case os.O_RDWR:
		access = windows.GENERIC_READ | windows.GENERIC_WRITE
	}
	var disposition uint32 = windows.OPEN_EXISTING
	if flag&os.O_CREATE != 0 {
		disposition = windows.OPEN_ALWAYS
	}
	return windows.CreateFile(p, access, windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE, nil, disposition,
		windows.FILE_ATTRIBUTE_NORMAL|windows.FILE_FLAG_OPEN_REPARSE_POINT, 0)
}

// Lock is a held per-tag lock (LockFileEx on TAG.lock).
type Lock struct {
	f    *os.File
	path string
}

// Acquire takes tag's lock in dir, waiting until ctx ends.
func Acquire(ctx context.Context, dir, tag string) (*Lock, error) {
	path := Path(dir, tag, LockExt)
	f, err := openNoFollow(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	for {
		ol := new(windows.Overlapped)
		err = windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol)
		if err == nil {
			return &Lock{f: f, path: path}, nil
		}
		if !errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, ErrLockTimeout)
		case <-time.After(lockPoll):
		}
	}
}

// Release drops the lock. Windows cannot delete an open file, so the file
// is removed after closing, when asked; a racing action simply recreates it.
func (l *Lock) Release(remove bool) {
	if l == nil || l.f == nil {
		return
	}
	l.f.Close()
	l.f = nil
	if remove {
		_ = os.Remove(l.path)
	}
}
