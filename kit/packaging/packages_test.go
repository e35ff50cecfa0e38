//go:build linux

// Package packaging_test builds the RPM, deb and MSI with scripts/packages.sh
// (what make packages runs) and checks them as a user gets them: exact file
// lists, versions, the MSI's upgrade tables, the deb installed with dpkg on
// this machine (ocf-tester against the installed agent in a network
// namespace, then purged without a trace), the RPM installed into a scratch
// root and erased, and Authenticode signing with a throwaway certificate.
package packaging_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ilbvip/ilbvip/internal/testenv"
	"github.com/ilbvip/ilbvip/pkg/config"
	"github.com/ilbvip/ilbvip/pkg/daemon"
)

// upgradeCode is the MSI's UpgradeCode: it must never change, or a new
// version installs next to the old one instead of replacing it.
const upgradeCode = "{B9BAAFD6-99A7-4D61-8F2C-E5A0508D39F1}"

var actions = []string{"quickCheck", "recover", "remove", "restore"}

// Built once by TestMain.
var (
	version  string // the VERSION file: every package and executable carries it
	buildErr error
	rpmFile  string
	debFile  string
	msiFile  string
)

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	b, err := os.ReadFile("../../VERSION")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	version = strings.TrimSpace(string(b))
	dir, err := os.MkdirTemp("", "ilbvip-dist-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	rpmFile = filepath.Join(dir, "ilbvip-"+version+"-1.x86_64.rpm")
	debFile = filepath.Join(dir, "ilbvip_"+version+"_amd64.deb")
	msiFile = filepath.Join(dir, "ilbvip-"+version+"-x64.msi")
	// Tests that need the packages report buildErr (skip, or fail in CI);
	// the example config's test runs anyway.
	buildErr = buildPackages(dir, nil)
	return m.Run()
}

// buildPackages runs scripts/packages.sh into dir with extra environment.
func buildPackages(dir string, env []string) error {
	for _, tool := range []string{"wixl", "msiinfo"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is missing: run scripts/install-test-deps.sh", tool)
		}
	}
	cmd := exec.Command("scripts/packages.sh", dir)
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "PKG_VERSION=")
	cmd.Env = append(cmd.Env, env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("scripts/packages.sh: %v\n%s", err, out)
	}
	return nil
}

func needPackages(t *testing.T) {
	t.Helper()
	if buildErr != nil {
		testenv.SkipOrFail(t, "packages not built: %v", buildErr)
	}
}

// run runs a command and returns its stdout; any failure fails the test.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, so.String(), se.String())
	}
	return so.String()
}

// docs are the repository's docs/*.md, installed next to README.md.
func docs(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, pattern := range []string{"../../docs/*.md", "../../docs/*.svg"} {
		m, err := filepath.Glob(pattern)
		if err != nil || len(m) == 0 {
			t.Fatalf("%s: %v %v", pattern, m, err)
		}
		for _, f := range m {
			out = append(out, "/usr/share/doc/ilbvip/docs/"+filepath.Base(f))
		}
	}
	return out
}

// linuxFile is one file of the Linux packages: its mode and, where it is
// copied unchanged, its source in the repository.
type linuxFile struct {
	path string
	mode fs.FileMode
	src  string
}

// linuxFiles are the files (not directories) the packages of format
// ("rpm" or "deb") must hold: exactly these.
func linuxFiles(t *testing.T, format string) []linuxFile {
	t.Helper()
	files := []linuxFile{
		{"/etc/ilbvip/example.yaml", 0o600, "kit/packaging/example.yaml"},
		{"/usr/lib/ocf/resource.d/ilbvip/ilbvip", 0o755, "kit/ocf/ilbvip"},
		{"/usr/share/doc/ilbvip/README.md", 0o644, "README.md"},
		{"/usr/share/doc/ilbvip/lifekeeper.md", 0o644, "kit/lifekeeper/README.md"},
		{"/usr/share/ilbvip/prometheus/ilbvip-alerts.yml", 0o644, "kit/prometheus/ilbvip-alerts.yml"},
	}
	for _, a := range actions {
		files = append(files,
			linuxFile{"/usr/libexec/ilbvip/" + a, 0o755, ""},
			linuxFile{"/usr/share/ilbvip/lifekeeper/" + a, 0o755, "kit/lifekeeper/" + a},
			linuxFile{"/usr/share/man/man8/ilbvip-" + a + ".8.gz", 0o644, ""})
	}
	for _, d := range docs(t) {
		files = append(files, linuxFile{d, 0o644, "docs/" + filepath.Base(d)})
	}
	if format == "deb" {
		files = append(files, linuxFile{"/usr/share/doc/ilbvip/copyright", 0o644, "LICENSE"})
	} else {
		files = append(files, linuxFile{"/usr/share/licenses/ilbvip/LICENSE", 0o644, "LICENSE"})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].path < files[j].path })
	return files
}

// ownDirs are the directories that belong to the package alone: removing
// the package removes them.
func ownDirs(format string) []string {
	d := []string{"/etc/ilbvip", "/usr/lib/ocf/resource.d/ilbvip", "/usr/libexec/ilbvip", "/usr/share/doc/ilbvip", "/usr/share/doc/ilbvip/docs", "/usr/share/ilbvip", "/usr/share/ilbvip/lifekeeper", "/usr/share/ilbvip/prometheus"}
	if format == "rpm" {
		d = append(d, "/usr/share/licenses/ilbvip")
	}
	sort.Strings(d)
	return d
}

func paths(files []linuxFile) []string {
	var p []string
	for _, f := range files {
		p = append(p, f.path)
	}
	return p
}

// debEntry is one line of dpkg-deb -c.
type debEntry struct {
	path string
	mode string // "-rwxr-xr-x"
	dir  bool
}

func debContents(t *testing.T) []debEntry {
	t.Helper()
	var out []debEntry
	for _, l := range strings.Split(strings.TrimSpace(run(t, "dpkg-deb", "-c", debFile)), "\n") {
		f := strings.Fields(l)
		if len(f) < 6 {
			t.Fatalf("dpkg-deb -c: unexpected line %q", l)
		}
		p := strings.TrimPrefix(f[5], ".")
		e := debEntry{path: strings.TrimSuffix(p, "/"), mode: f[0], dir: strings.HasPrefix(f[0], "d")}
		if f[1] != "root/root" {
			t.Errorf("%s is owned by %s, want root/root", p, f[1])
		}
		out = append(out, e)
	}
	return out
}

func diff(t *testing.T, what string, got, want []string) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	var extra, missing []string
	for _, g := range got {
		if !slices.Contains(want, g) {
			extra = append(extra, g)
		}
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			missing = append(missing, w)
		}
	}
	t.Errorf("%s: unexpected %q, missing %q (got %q)", what, extra, missing, got)
}

func TestFileLists(t *testing.T) {
	needPackages(t)
	testenv.RequireTools(t, "rpm", "dpkg-deb", "msiinfo")
	t.Run("rpm", func(t *testing.T) {
		got := strings.Fields(run(t, "rpm", "-qpl", rpmFile))
		want := append(paths(linuxFiles(t, "rpm")), ownDirs("rpm")...)
		sort.Strings(want)
		diff(t, "rpm -qpl", got, want)
		// File flags: the example is %config(noreplace), the license %license.
		flags := map[string]string{}
		modes := map[string]string{}
		for _, l := range strings.Split(strings.TrimSpace(run(t, "rpm", "-qp", "--qf", `[%{FILENAMES} %{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILEFLAGS:fflags}\n]`, rpmFile)), "\n") {
			f := strings.Fields(l)
			if len(f) < 3 {
				t.Fatalf("rpm --qf: unexpected line %q", l)
			}
			modes[f[0]] = f[1]
			if f[2] != "root:root" {
				t.Errorf("%s is owned by %s, want root:root", f[0], f[2])
			}
			if len(f) > 3 {
				flags[f[0]] = f[3]
			}
		}
		wantFlags := map[string]string{"/etc/ilbvip/example.yaml": "cn", "/usr/share/licenses/ilbvip/LICENSE": "l"}
		for p, fl := range flags {
			if wantFlags[p] != fl {
				t.Errorf("%s has file flags %q, want %q", p, fl, wantFlags[p])
			}
		}
		for p, fl := range wantFlags {
			if flags[p] != fl {
				t.Errorf("%s has file flags %q, want %q (c: config, n: noreplace, l: license)", p, flags[p], fl)
			}
		}
		if got := strings.TrimSpace(run(t, "rpm", "-qpc", rpmFile)); got != "/etc/ilbvip/example.yaml" {
			t.Errorf("rpm -qpc: %q, want /etc/ilbvip/example.yaml", got)
		}
		for _, f := range linuxFiles(t, "rpm") {
			if want := fs.FileMode(f.mode).String(); modes[f.path] != want {
				t.Errorf("%s has mode %s, want %s", f.path, modes[f.path], want)
			}
		}
		for _, d := range ownDirs("rpm") {
			if modes[d] != "drwxr-xr-x" {
				t.Errorf("%s has mode %s, want drwxr-xr-x", d, modes[d])
			}
		}
		if out := run(t, "rpm", "-K", "--nosignature", rpmFile); !strings.Contains(out, "digests OK") {
			t.Errorf("rpm -K: %s", out)
		}
	})
	t.Run("deb", func(t *testing.T) {
		entries := debContents(t)
		var files, dirs []string
		modes := map[string]string{}
		for _, e := range entries {
			modes[e.path] = e.mode
			if e.dir {
				dirs = append(dirs, e.path)
			} else {
				files = append(files, e.path)
			}
		}
		sort.Strings(files)
		want := linuxFiles(t, "deb")
		diff(t, "dpkg-deb -c (files)", files, paths(want))
		for _, f := range want {
			if w := fs.FileMode(f.mode).String(); modes[f.path] != w {
				t.Errorf("%s has mode %s, want %s", f.path, modes[f.path], w)
			}
		}
		// Directories: the package's own, and only the parents of its files.
		for _, d := range ownDirs("deb") {
			if !slices.Contains(dirs, d) {
				t.Errorf("dpkg-deb -c lacks the directory %s", d)
			}
		}
		for _, d := range dirs {
			if d == "" {
				continue // "./"
			}
			if !slices.ContainsFunc(files, func(f string) bool { return strings.HasPrefix(f, d+"/") }) {
				t.Errorf("dpkg-deb -c has the directory %s with nothing of the package in it", d)
			}
		}
		ctrl := filepath.Join(t.TempDir(), "DEBIAN")
		run(t, "dpkg-deb", "-e", debFile, ctrl)
		conffiles, err := os.ReadFile(filepath.Join(ctrl, "conffiles"))
		if err != nil || strings.TrimSpace(string(conffiles)) != "/etc/ilbvip/example.yaml" {
			t.Errorf("conffiles: %q (%v), want /etc/ilbvip/example.yaml", conffiles, err)
		}
	})
	t.Run("run time files are not the package's", func(t *testing.T) {
		// The state directory, logs and resources' TAG.yaml are the kit's
		// at run time: a package that owned them would delete them. What
		// the packages hold, not what this test expects of them.
		owned := strings.Fields(run(t, "rpm", "-qpl", rpmFile))
		for _, e := range debContents(t) {
			owned = append(owned, e.path)
		}
		for _, p := range owned {
			if strings.HasPrefix(p, "/run/") || strings.HasPrefix(p, "/var/") || (strings.HasPrefix(p, "/etc/ilbvip/") && p != "/etc/ilbvip/example.yaml") {
				t.Errorf("the package owns %s, a run-time path", p)
			}
		}
	})
	t.Run("msi", func(t *testing.T) {
		files := msiTable(t, msiFile, "File")
		var names []string
		comp := map[string]string{} // file name -> component
		for _, r := range files {
			names = append(names, r["FileName"])
			comp[r["FileName"]] = r["Component_"]
		}
		sort.Strings(names)
		diff(t, "msiinfo export File", names, []string{"LICENSE.txt", "example.yaml", "quickCheck.cmd", "quickCheck.exe", "recover.cmd", "recover.exe", "remove.cmd", "remove.exe", "restore.cmd", "restore.exe"})
		dirOf := map[string]string{} // component -> directory
		for _, r := range msiTable(t, msiFile, "Component") {
			dirOf[r["Component"]] = r["Directory_"]
			if r["Attributes"] != "256" {
				t.Errorf("component %s has attributes %s, want 256 (64-bit)", r["Component"], r["Attributes"])
			}
			if r["ComponentId"] == "" {
				t.Errorf("component %s has no GUID", r["Component"])
			}
		}
		dirs := map[string][2]string{} // directory -> parent, name
		for _, r := range msiTable(t, msiFile, "Directory") {
			dirs[r["Directory"]] = [2]string{r["Directory_Parent"], r["DefaultDir"]}
		}
		// Program Files\ilbvip and ProgramData\ilbvip.
		where := func(file string) string {
			d := dirs[dirOf[comp[file]]]
			return d[0] + `\` + d[1]
		}
		for _, f := range []string{"restore.exe", "remove.exe", "quickCheck.exe", "recover.exe", "LICENSE.txt"} {
			if got := where(f); got != `ProgramFiles64Folder\ilbvip` {
				t.Errorf("%s goes to %s, want ProgramFiles64Folder\\ilbvip", f, got)
			}
		}
		for _, f := range []string{"restore.cmd", "remove.cmd", "quickCheck.cmd", "recover.cmd"} {
			if got := where(f); got != `INSTALLDIR\lifekeeper` {
				t.Errorf("%s goes to %s, want INSTALLDIR\\lifekeeper", f, got)
			}
		}
		if got := where("example.yaml"); got != `CommonAppDataFolder\ilbvip` {
			t.Errorf("example.yaml goes to %s, want CommonAppDataFolder\\ilbvip", got)
		}
		media := msiTable(t, msiFile, "Media")
		if len(media) != 1 || !strings.HasPrefix(media[0]["Cabinet"], "#") {
			t.Errorf("Media table %v: want one embedded cabinet (#...)", media)
		}
	})
	t.Run("msi contents", func(t *testing.T) {
		testenv.RequireTools(t, "msiextract")
		dir := t.TempDir()
		run(t, "msiextract", "-C", dir, msiFile)
		ex, err := os.ReadFile(filepath.Join(dir, "ilbvip", "example.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if src, _ := os.ReadFile("example.yaml"); !bytes.Equal(ex, src) {
			t.Error("the MSI's example.yaml differs from kit/packaging/example.yaml")
		}
		for _, a := range actions {
			// Windows executables cannot run here: their build info says
			// which program, for which OS, each one is.
			info := run(t, "go", "version", "-m", filepath.Join(dir, "ilbvip", a+".exe"))
			for _, want := range []string{"\tpath\tgithub.com/ilbvip/ilbvip/actions/" + a + "\n", "\tbuild\tGOOS=windows\n", "\tbuild\tGOARCH=amd64\n", "\tbuild\tCGO_ENABLED=0\n"} {
				if !strings.Contains(info, want) {
					t.Errorf("%s.exe: build info lacks %q:\n%s", a, strings.TrimSpace(want), info)
				}
			}
		}
	})
}

// msiTable is an MSI table as rows of column name to value.
func msiTable(t *testing.T, msi, table string) []map[string]string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(run(t, "msiinfo", "export", msi, table), "\r\n"), "\n")
	if len(lines) < 3 {
		t.Fatalf("msiinfo export %s: %q", table, lines)
	}
	cols := strings.Split(strings.TrimRight(lines[0], "\r"), "\t")
	var rows []map[string]string
	for _, l := range lines[3:] { // names, types, key columns, then rows
		f := strings.Split(strings.TrimRight(l, "\r"), "\t")
		r := map[string]string{}
		for i, c := range cols {
			if i < len(f) {
				r[c] = f[i]
			}
		}
		rows = append(rows, r)
	}
	return rows
}

func TestVersions(t *testing.T) {
	needPackages(t)
	testenv.RequireTools(t, "rpm", "dpkg-deb", "msiinfo")
	props := map[string]string{}
	for _, r := range msiTable(t, msiFile, "Property") {
		props[r["Property"]] = r["Value"]
	}
	suminfo := run(t, "msiinfo", "suminfo", msiFile)
	for _, tc := range []struct{ name, got, want string }{
		{"rpm version", run(t, "rpm", "-qp", "--qf", "%{VERSION}", rpmFile), version},
		{"rpm release", run(t, "rpm", "-qp", "--qf", "%{RELEASE}", rpmFile), "1"},
		{"rpm arch", run(t, "rpm", "-qp", "--qf", "%{ARCH}", rpmFile), "x86_64"},
		{"rpm name", run(t, "rpm", "-qp", "--qf", "%{NAME}", rpmFile), "ilbvip"},
		{"deb version", strings.TrimSpace(run(t, "dpkg-deb", "-f", debFile, "Version")), version},
		{"deb arch", strings.TrimSpace(run(t, "dpkg-deb", "-f", debFile, "Architecture")), "amd64"},
		{"deb package", strings.TrimSpace(run(t, "dpkg-deb", "-f", debFile, "Package")), "ilbvip"},
		{"msi ProductVersion", props["ProductVersion"], version},
		{"msi ProductName", props["ProductName"], "ilbvip"},
		{"msi UpgradeCode", props["UpgradeCode"], upgradeCode},
		{"msi ALLUSERS (per machine)", props["ALLUSERS"], "1"},
		{"msi subject", grepLine(suminfo, "Subject: "), "ilbvip " + version},
		{"msi platform", grepLine(suminfo, "Template: "), "x64;1033"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("%s = %q, want %q", tc.name, tc.got, tc.want)
			}
		})
	}
	t.Run("msi major upgrade", func(t *testing.T) {
		// Older versions are removed by the new one; a newer one installed
		// refuses the downgrade.
		up := map[string]map[string]string{}
		for _, r := range msiTable(t, msiFile, "Upgrade") {
			if r["UpgradeCode"] != upgradeCode {
				t.Errorf("Upgrade row for %s, want %s", r["UpgradeCode"], upgradeCode)
			}
			up[r["ActionProperty"]] = r
		}
		if r := up["WIX_UPGRADE_DETECTED"]; r == nil || r["VersionMax"] != version || r["VersionMin"] != "" {
			t.Errorf("no upgrade row for versions below %s: %v", version, up)
		}
		if r := up["WIX_DOWNGRADE_DETECTED"]; r == nil || r["VersionMin"] != version {
			t.Errorf("no downgrade row for versions above %s: %v", version, up)
		}
		seq := map[string]bool{}
		for _, r := range msiTable(t, msiFile, "InstallExecuteSequence") {
			seq[r["Action"]] = true
		}
		for _, a := range []string{"FindRelatedProducts", "LaunchConditions", "RemoveExistingProducts"} {
			if !seq[a] {
				t.Errorf("InstallExecuteSequence lacks %s", a)
			}
		}
		lc := msiTable(t, msiFile, "LaunchCondition")
		if len(lc) != 1 || lc[0]["Condition"] != "NOT WIX_DOWNGRADE_DETECTED" {
			t.Errorf("LaunchCondition %v: want the downgrade refused", lc)
		}
	})
}

func grepLine(s, prefix string) string {
	for _, l := range strings.Split(s, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), prefix); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// TestRPMScratchRoot installs the RPM into an empty root, checks every
// file, that an edited config survives a reinstall, and that erasing it
// leaves nothing of the package.
func TestRPMScratchRoot(t *testing.T) {
	testenv.RequireRoot(t)
	needPackages(t)
	testenv.RequireTools(t, "rpm")
	root := t.TempDir()
	rpm := func(args ...string) string { return run(t, "rpm", append([]string{"--root", root}, args...)...) }
	rpm("--initdb")
	rpm("-ivh", "--nodeps", rpmFile)
	checkInstalled(t, root, linuxFiles(t, "rpm"), ownDirs("rpm"))
	if got := strings.TrimSpace(rpm("-qc", "ilbvip")); got != "/etc/ilbvip/example.yaml" {
		t.Errorf("rpm -qc: %q", got)
	}
	if out := rpm("-V", "ilbvip"); out != "" {
		t.Errorf("rpm -V after install: %s", out)
	}

	// noreplace: a reinstall keeps the admin's edit.
	ex := filepath.Join(root, "etc/ilbvip/example.yaml")
	edited := []byte("port: 23456\n")
	if err := os.WriteFile(ex, edited, 0o600); err != nil {
		t.Fatal(err)
	}
	rpm("-Uvh", "--nodeps", "--replacepkgs", rpmFile)
	if b, _ := os.ReadFile(ex); !bytes.Equal(b, edited) {
		t.Errorf("reinstall overwrote the edited example.yaml: %q", b)
	}
	rpm("-e", "--nodeps", "ilbvip")
	// rpm keeps an edited config as .rpmsave, by design; nothing else stays.
	if b, err := os.ReadFile(ex + ".rpmsave"); err != nil || !bytes.Equal(b, edited) {
		t.Errorf("erase did not keep the edited config as example.yaml.rpmsave: %v", err)
	}
	checkGone(t, root, linuxFiles(t, "rpm"), slices.DeleteFunc(ownDirs("rpm"), func(d string) bool { return d == "/etc/ilbvip" }))
	// The admin removes the saved copy; rpm left /etc/ilbvip because it held it.
	if err := os.Remove(ex + ".rpmsave"); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Dir(ex)); err != nil {
		t.Fatalf("/etc/ilbvip holds more than the .rpmsave: %v", err)
	}

	// And a plain install and erase leaves nothing, /etc/ilbvip included.
	rpm("-ivh", "--nodeps", rpmFile)
	rpm("-e", "--nodeps", "ilbvip")
	checkGone(t, root, linuxFiles(t, "rpm"), ownDirs("rpm"))
	if out, err := exec.Command("rpm", "--root", root, "-q", "ilbvip").CombinedOutput(); err == nil {
		t.Errorf("rpm -q ilbvip after erase: %s", out)
	}
}

// checkInstalled checks that every file is under root with its mode and,
// where it is a copy, its source's content, and that the directories exist.
func checkInstalled(t *testing.T, root string, files []linuxFile, dirs []string) {
	t.Helper()
	for _, f := range files {
		fi, err := os.Lstat(filepath.Join(root, f.path))
		if err != nil {
			t.Errorf("not installed: %v", err)
			continue
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm() != f.mode {
			t.Errorf("%s: mode %s, want a regular file with %s", f.path, fi.Mode(), f.mode)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && (st.Uid != 0 || st.Gid != 0) {
			t.Errorf("%s: owner %d:%d, want root", f.path, st.Uid, st.Gid)
		}
		if f.src == "" {
			continue
		}
		got, err := os.ReadFile(filepath.Join(root, f.path))
		if err != nil {
			t.Error(err)
			continue
		}
		if want, _ := os.ReadFile(filepath.Join("../..", f.src)); !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s", f.path, f.src)
		}
	}
	for _, d := range dirs {
		if fi, err := os.Stat(filepath.Join(root, d)); err != nil || !fi.IsDir() {
			t.Errorf("directory %s not installed: %v", d, err)
		}
	}
}

// checkGone checks that none of the files and directories remain under root.
func checkGone(t *testing.T, root string, files []linuxFile, dirs []string) {
	t.Helper()
	for _, p := range append(paths(files), dirs...) {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("%s is left behind", p)
		} else if !os.IsNotExist(err) {
			t.Error(err)
		}
	}
}

// dpkg runs dpkg, waiting while another dpkg or apt holds its lock.
func dpkg(t *testing.T, args ...string) string {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		cmd := exec.Command("dpkg", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err == nil {
			return string(out)
		}
		if !strings.Contains(string(out), "lock") || time.Now().After(deadline) {
			t.Fatalf("dpkg %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		time.Sleep(time.Second)
	}
}

func debInstalled() bool {
	out, err := exec.Command("dpkg-query", "-W", "-f", "${Status}", "ilbvip").Output()
	return err == nil && strings.Contains(string(out), "installed") && !strings.Contains(string(out), "not-installed")
}

// TestDebInstall installs the deb on this machine with dpkg, runs the
// installed kit (versions, config, LifeKeeper scripts, ocf-tester against
// the agent in a network namespace), and purges it: no file of it remains.
func TestDebInstall(t *testing.T) {
	testenv.RequireRoot(t)
	needPackages(t)
	testenv.RequireTools(t, "dpkg", "dpkg-query", "dpkg-deb", "ocf-tester", "xmllint", "ip")
	// Alone: not next to another run of this test, nor to a Pacemaker test
	// that would take the installed agent for its own leak.
	testenv.LockOCFProviders(t, true)
	files := linuxFiles(t, "deb")
	if debInstalled() {
		t.Log("ilbvip is installed (an earlier run?): purging it first")
		dpkg(t, "--purge", "ilbvip")
	}
	// Never overwrite, and later purge, files this machine has from
	// elsewhere; and remember which of the package's directories exist
	// already (they may hold others' files and stay).
	for _, f := range files {
		if _, err := os.Lstat(f.path); err == nil {
			t.Fatalf("%s exists and no package owns it: remove it before running this test", f.path)
		}
	}
	var fresh []string
	for _, d := range ownDirs("deb") {
		if _, err := os.Stat(d); err != nil {
			fresh = append(fresh, d)
		}
	}
	t.Cleanup(func() {
		if debInstalled() {
			_ = exec.Command("dpkg", "--purge", "ilbvip").Run()
		}
	})

	dpkg(t, "-i", debFile)
	checkInstalled(t, "/", files, ownDirs("deb"))
	listed := strings.Fields(run(t, "dpkg-query", "-L", "ilbvip"))
	for _, f := range files {
		if !slices.Contains(listed, f.path) {
			t.Errorf("dpkg -L ilbvip lacks %s", f.path)
		}
	}

	t.Run("version", func(t *testing.T) {
		for _, exe := range []string{"/usr/libexec/ilbvip/restore", "/usr/libexec/ilbvip/quickCheck", "/usr/share/ilbvip/lifekeeper/recover"} {
			out := strings.TrimSpace(run(t, exe, "--version"))
			if want := filepath.Base(exe) + " version " + version; out != want {
				t.Errorf("%s --version: %q, want %q", exe, out, want)
			}
		}
	})
	t.Run("example config", func(t *testing.T) {
		// As root, so the loader's check of the file's mode applies.
		c, err := config.Load(config.Sources{Flags: map[string]string{"tag": "lbhc-12345"}, Env: func(string) (string, bool) { return "", false },
			ConfigFile: "/etc/ilbvip/example.yaml", Euid: 0})
		if err != nil {
			t.Fatalf("the installed example does not load: %v", err)
		}
		if c.Port != 12345 || c.File != "/etc/ilbvip/example.yaml" {
			t.Errorf("loaded port %d from %q", c.Port, c.File)
		}
		cmd := exec.Command("/usr/libexec/ilbvip/quickCheck", "-t", "lbhc-12345", "-c", "/etc/ilbvip/example.yaml", "--check-config")
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("quickCheck --check-config of the installed example: %v\n%s", err, out)
		}
	})
	t.Run("man pages", func(t *testing.T) {
		for _, a := range actions {
			page := gunzip(t, "/usr/share/man/man8/ilbvip-"+a+".8.gz")
			for _, want := range []string{".TH ILBVIP-" + strings.ToUpper(a) + " 8 \"20", "\" \"ilbvip " + version + "\" \"System Administration\"\n", "\n.SH NAME\nilbvip\\-" + a + ", " + a + " \\-", `\-\-port`, `\-\-check\-config`, "\n.SH EXIT STATUS\n"} {
				if !strings.Contains(page, want) {
					t.Errorf("ilbvip-%s.8: lacks %q", a, want)
				}
			}
		}
	})
	t.Run("ocf-tester", func(t *testing.T) {
		ns := testenv.NewNS(t)
		ns.VethSelf(t, "eth1", "eth1p")
		sd := filepath.Join(t.TempDir(), "state")
		t.Cleanup(func() {
			ns.Do(t, func() {
				for _, pid := range daemon.FindResponders("vip", sd) {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			})
		})
		// No bindir: the agent's default, /usr/libexec/ilbvip, is the package's.
		cmd := ns.Command("ocf-tester", "-n", "vip", "-o", "port=62501", "-o", "state_dir="+sd,
			"-o", "vip=10.10.5.200", "-o", "interface=eth1", "-o", "allow=168.63.129.16",
			"/usr/lib/ocf/resource.d/ilbvip/ilbvip")
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "passed all tests") {
			t.Fatalf("ocf-tester against the installed agent: %v\n%s", err, out)
		}
		if addrs := ns.MustRun(t, "ip", "-o", "addr", "show", "dev", "eth1"); strings.Contains(addrs, "10.10.5.200") {
			t.Errorf("the VIP is left on eth1: %s", addrs)
		}
		var left []int
		ns.Do(t, func() { left = daemon.FindResponders("vip", sd) })
		if len(left) != 0 {
			t.Errorf("responders left running: %v", left)
		}
	})
	t.Run("conffile kept on reinstall", func(t *testing.T) {
		edited := []byte("# edited by the admin\nport: 23456\n")
		if err := os.WriteFile("/etc/ilbvip/example.yaml", edited, 0o600); err != nil {
			t.Fatal(err)
		}
		dpkg(t, "-i", debFile) // no prompt: the package's own copy did not change
		if b, _ := os.ReadFile("/etc/ilbvip/example.yaml"); !bytes.Equal(b, edited) {
			t.Errorf("reinstalling overwrote the edited /etc/ilbvip/example.yaml: %q", b)
		}
	})

	dpkg(t, "--purge", "ilbvip")
	if debInstalled() {
		t.Error("ilbvip is still installed after dpkg --purge")
	}
	// Every file of dpkg-deb -c is gone, the package's own directories too
	// (unless they existed before); shared ones like /usr/lib/ocf/resource.d
	// may stay.
	for _, e := range debContents(t) {
		if e.dir {
			continue
		}
		if _, err := os.Lstat(e.path); err == nil {
			t.Errorf("%s is left behind after dpkg --purge", e.path)
		}
	}
	checkGone(t, "/", nil, fresh)
}

func gunzip(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return string(b)
}

// TestSigning builds the packages again with SIGN_CERT and SIGN_KEY set to
// a throwaway self-signed certificate: the MSI and the EXEs inside it carry
// a signature osslsigncode verifies against that certificate; the unsigned
// build's MSI does not.
func TestSigning(t *testing.T) {
	t.Parallel() // a second build: let it overlap the install tests
	needPackages(t)
	testenv.RequireTools(t, "openssl", "osslsigncode", "msiextract")
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	run(t, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
		"-subj", "/CN=ilbvip test signing", "-addext", "extendedKeyUsage=codeSigning")
	out := filepath.Join(dir, "dist")
	if err := buildPackages(out, []string{"SIGN_CERT=" + cert, "SIGN_KEY=" + key}); err != nil {
		t.Fatal(err)
	}
	msi := filepath.Join(out, filepath.Base(msiFile))
	verify := func(file string) error {
		b, err := exec.Command("osslsigncode", "verify", "-CAfile", cert, "-in", file).CombinedOutput()
		if err != nil || !strings.Contains(string(b), "Signature verification: ok") {
			return fmt.Errorf("osslsigncode verify %s: %v\n%s", filepath.Base(file), err, b)
		}
		return nil
	}
	if err := verify(msi); err != nil {
		t.Error(err)
	}
	x := filepath.Join(dir, "x")
	run(t, "msiextract", "-C", x, msi)
	for _, a := range actions {
		if err := verify(filepath.Join(x, "ilbvip", a+".exe")); err != nil {
			t.Error(err)
		}
	}
	if verify(msiFile) == nil {
		t.Error("the unsigned build's MSI verifies as signed")
	}
	// The signed MSI is the same installer.
	var names []string
	for _, r := range msiTable(t, msi, "File") {
		names = append(names, r["FileName"])
	}
	if len(names) != 10 { // 4 .exe, 4 .cmd, LICENSE.txt, example.yaml
		t.Errorf("signed MSI files: %v", names)
	}

	// A PKCS#12 file with a password file, as scripts/sign.sh documents.
	pass, pfx := filepath.Join(dir, "pass"), filepath.Join(dir, "c.pfx")
	if err := os.WriteFile(pass, []byte("throwaway\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, "openssl", "pkcs12", "-export", "-inkey", key, "-in", cert, "-out", pfx, "-passout", "file:"+pass)
	cp := filepath.Join(dir, "pfx.msi")
	b, err := os.ReadFile(msiFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("scripts/sign.sh", cp)
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "SIGN_CERT="+pfx, "SIGN_KEY=", "SIGN_PASS_FILE="+pass)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sign.sh with a .pfx: %v\n%s", err, out)
	}
	if err := verify(cp); err != nil {
		t.Error(err)
	}
}

// Bad settings stop scripts/packages.sh at once, with one line naming the
// setting, before anything is built or written.
func TestBadSettings(t *testing.T) {
	testenv.RequireTools(t, "wixl")
	for _, tc := range []struct {
		name string
		env  []string
		code int
		msg  string
	}{
		{"version", []string{"PKG_VERSION=1.0"}, 2, `packages: PKG_VERSION "1.0" is not a plain MAJOR.MINOR.PATCH version`},
		{"version suffix", []string{"PKG_VERSION=1.0.0-3-gabcdef"}, 2, "PKG_VERSION"},
		{"certificate missing", []string{"SIGN_CERT=/nonexistent/cert.pem", "SIGN_KEY=/nonexistent/key.pem"}, 1, "sign: SIGN_CERT: /nonexistent/cert.pem cannot be read"},
		{"key not given", []string{"SIGN_CERT=example.yaml", "SIGN_KEY="}, 1, "sign: set SIGN_KEY"}, // relative to the caller's directory
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "dist")
			cmd := exec.Command("../../scripts/packages.sh", out)
			cmd.Env = append(os.Environ(), tc.env...)
			b, err := cmd.CombinedOutput()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != tc.code {
				t.Fatalf("exit %v, want %d\n%s", err, tc.code, b)
			}
			if lines := strings.Split(strings.TrimSpace(string(b)), "\n"); len(lines) != 1 || !strings.Contains(lines[0], tc.msg) {
				t.Errorf("output %q, want one line with %q", b, tc.msg)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("the output directory was created")
			}
		})
	}
}

// TestScripts checks the packaging scripts with shellcheck.
func TestScripts(t *testing.T) {
	testenv.RequireTools(t, "shellcheck")
	cmd := exec.Command("shellcheck", "scripts/packages.sh", "scripts/sign.sh")
	cmd.Dir = "../.."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
}
