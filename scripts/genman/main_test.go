package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/ilbvip/ilbvip/internal/testenv"
	"github.com/ilbvip/ilbvip/pkg/app"
)

// Each page is generated from the action's own command line: every flag
// it accepts is documented, with the header, names and sections man needs.
func TestPages(t *testing.T) {
	for _, a := range []app.Action{app.Restore, app.Remove, app.QuickCheck, app.Recover} {
		t.Run(a.Name, func(t *testing.T) {
			page, err := Page(a, "9.8.7")
			if err != nil {
				t.Fatal(err)
			}
			want := []string{
				".TH ILBVIP-" + strings.ToUpper(a.Name) + ` 8 "" "ilbvip 9.8.7" "System Administration"` + "\n",
				".SH NAME\nilbvip\\-" + a.Name + ", " + a.Name + " \\- " + roffText(a.Usage),
				".SH SYNOPSIS\n.B /usr/libexec/ilbvip/" + a.Name + "\n\\-t TAG",
				"OCF_RESKEY_<name>", // Markdown would eat the underscores and the <name>
				"\n.SH EXIT STATUS\n", "\n.SH FILES\n", "\n.SH SEE ALSO\n",
			}
			for _, f := range app.App(a).VisibleFlags() {
				head := ".TP\n" + optionHead(app.FlagSyntax(f)) + "\n"
				if f.(cli.DocGenerationFlag).TakesValue() && !strings.Contains(head, `\fP \fI`) {
					t.Errorf("%s: no placeholder in %q", f.Names()[0], head)
				}
				want = append(want, head)
			}
			want = append(want, `\fB\-\-port\fP \fIPORT\fP`, `\fB\-t, \-\-tag\fP \fITAG\fP`)
			if a.Name == "quickCheck" {
				want = append(want, `\fB\-\-diagnose\fP`, `\fB\-\-json\fP`, `\fB\-\-level\fP \fIN\fP`)
			}
			if strings.Contains(page, "[value]") || strings.Contains(page, `=""`) || strings.Contains(page, `\fIvalue`) {
				t.Error(`page has urfave's "value" or ="" placeholders`)
			}
			for _, w := range want {
				if !strings.Contains(page, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			if strings.Contains(page, `ilbvip\-`+a.Name+`\fP(8)`) {
				t.Error("SEE ALSO names the page itself")
			}
			groff(t, page)
		})
	}
}

// The gzip files are reproducible: no name, no time stamp.
func TestWriteGzip(t *testing.T) {
	dir := testenv.TempDir(t)
	var files [2][]byte
	for i := range files {
		p := filepath.Join(dir, "p.8.gz")
		if err := writeGzip(p, ".TH X 8\n"); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[i] = b
	}
	if !bytes.Equal(files[0], files[1]) {
		t.Error("two writes differ")
	}
	zr, err := gzip.NewReader(bytes.NewReader(files[0]))
	if err != nil {
		t.Fatal(err)
	}
	if !zr.ModTime.IsZero() || zr.Name != "" {
		t.Errorf("gzip header has time %v, name %q", zr.ModTime, zr.Name)
	}
	if b, _ := io.ReadAll(zr); string(b) != ".TH X 8\n" {
		t.Errorf("content %q", b)
	}
}
