// Command genman writes the man pages of the four executables, generated
// from their command-line definitions (pkg/app), gzipped, for the packages:
//
//	go run ./scripts/genman -version 1.0.0 -o DIR
//
// writes DIR/ilbvip-restore.8.gz and its three siblings. The pages are named
// ilbvip-ACTION because restore(8) belongs to dump, and the executables are
// not on PATH (/usr/libexec/ilbvip): man ilbvip-restore.
package main

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/ilbvip/ilbvip/pkg/app"
)

// BinDir is where the packages install the executables.
const BinDir = "/usr/libexec/ilbvip"

func main() {
	out := flag.String("o", ".", "output `DIR`")
	version := flag.String("version", app.Version, "the version shown in the pages")
	date := flag.String("date", "", "the `DATE` shown in the pages (YYYY-MM-DD; packages.sh passes the last commit's)")
	flag.Parse()
	Date = *date
	app.Version = *version
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "genman:", err)
		os.Exit(1)
	}
	for _, a := range []app.Action{app.Restore, app.Remove, app.QuickCheck, app.Recover} {
		page, err := Page(a, *version)
		if err == nil {
			err = writeGzip(filepath.Join(*out, "ilbvip-"+a.Name+".8.gz"), page)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "genman: %s: %v\n", a.Name, err)
			os.Exit(1)
		}
	}
}

// Page is the action's man page (troff, section 8), written from the
// action's own command line: the flags as --help shows them (placeholders
// from the parameter table, each default once).
func Page(a app.Action, version string) (string, error) {
	cl := app.App(a)
	name := "ilbvip-" + a.Name
	var b strings.Builder
	fmt.Fprintf(&b, ".TH %s 8 \"%s\" \"ilbvip %s\" \"System Administration\"\n", strings.ToUpper(name), Date, version)
	// whatis finds the page under both names.
	fmt.Fprintf(&b, ".SH NAME\n%s, %s \\- %s\n", roffEscape(name), roffEscape(a.Name), roffText(cl.Usage))
	// The executables are not on PATH.
	syn := strings.TrimPrefix(cl.UsageText, a.Name+" ")
	if syn == cl.UsageText {
		return "", fmt.Errorf("usage text %q does not start with %q", cl.UsageText, a.Name)
	}
	fmt.Fprintf(&b, ".SH SYNOPSIS\n.B %s\n%s\n", roffEscape(BinDir+"/"+a.Name), roffText(syn))
	b.WriteString(".SH DESCRIPTION\n")
	for i, para := range strings.Split(cl.Description, "\n\n") {
		if i > 0 {
			b.WriteString(".PP\n")
		}
		b.WriteString(roffText(para) + "\n")
	}
	b.WriteString(".SH OPTIONS\n")
	// urfave/cli adds --help and --version when it runs.
	flags := append(cl.VisibleFlags(), cli.HelpFlag, cli.VersionFlag)
	for _, f := range flags {
		fmt.Fprintf(&b, ".TP\n%s\n%s\n", optionHead(app.FlagSyntax(f)), roffText(app.FlagUsage(f)))
	}
	return b.String() + trailer(a), nil
}

// optionHead sets "-t, --tag TAG" with the names bold and the placeholder
// italic, as man-pages(7) asks.
func optionHead(syntax string) string {
	names, arg, _ := strings.Cut(syntax, " ")
	for strings.HasSuffix(names, ",") { // "-t, --tag TAG": more names follow
		var next string
		next, arg, _ = strings.Cut(arg, " ")
		names += " " + next
	}
	head := `\fB` + roffEscape(names) + `\fP`
	if arg != "" {
		head += ` \fI` + roffEscape(arg) + `\fP`
	}
	return head
}

// trailer adds what the generated page lacks: exit status, files, see also.
func trailer(a app.Action) string {
	var see []string
	for _, o := range []string{"restore", "remove", "quickCheck", "recover"} {
		if o != a.Name {
			see = append(see, `\fBilbvip\-`+o+`\fP(8)`)
		}
	}
	return `.SH EXIT STATUS
The OCF exit codes: 0 success (healthy), 1 generic failure, 2 bad arguments,
3 unimplemented, 4 insufficient privileges, 5 not installed (interface absent,
\-c FILE missing), 6 not configured (a parameter's value is wrong), 7 not running
(quickCheck of a cleanly stopped resource).
.SH FILES
.TP
.I \%/etc/ilbvip/TAG.yaml
the resource's configuration (refused when writable by group or others);
.I \%/etc/ilbvip/example.yaml
is a commented example
.TP
.I \%/run/ilbvip
the state directory: pid, lock, stats and log files (parameter state_dir)
.TP
.I \%/usr/lib/ocf/resource.d/ilbvip/ilbvip
the Pacemaker agent ocf:ilbvip:ilbvip
.TP
.I \%/usr/share/ilbvip/lifekeeper/
the LifeKeeper Generic Application scripts
.TP
.I \%/usr/share/ilbvip/prometheus/ilbvip\-alerts.yml
Prometheus alert rules for quickCheck \-\-metrics
.TP
.I \%/usr/share/doc/ilbvip/README.md
every parameter, the cluster managers' setup, troubleshooting
.SH SEE ALSO
` + strings.Join(see, ", ") + "\n"
}

// Date is the date the pages show, "" for none.
var Date string

// pathWord is a word with a slash: a path, never hyphenated by man.
var pathWord = regexp.MustCompile(`(^|[\s(])([^\s(]*/[^\s]*)`)

// roffText makes free text safe for troff: backslashes doubled, hyphens
// written \\-, and a line that would start with '.' or '\” kept from being
// read as a request.
func roffText(s string) string {
	s = roffEscape(strings.ReplaceAll(s, `\`, `\e`))
	s = pathWord.ReplaceAllString(s, `$1\%$2`)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			lines[i] = `\&` + l
		}
	}
	return strings.Join(lines, "\n")
}

// roffEscape writes a hyphen as troff's \- so it is not a line-break hyphen.
func roffEscape(s string) string { return strings.ReplaceAll(s, "-", `\-`) }

// writeGzip writes a reproducible gzip file: no name, no time stamp.
func writeGzip(path, s string) error {
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write([]byte(s)); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}
