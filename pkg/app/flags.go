package app

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/ilbvip/ilbvip/pkg/config"
)

// flagArgs are the placeholders of the flags that are not parameters.
var flagArgs = map[string]string{"config": "FILE", "id": "ID", "level": "N"}

// placeholder names the value of the flag called name ("PORT"): the
// parameter table's, so --help, the man pages and the docs agree.
func placeholder(name string) string {
	if a, ok := flagArgs[name]; ok {
		return a
	}
	for _, p := range config.Params {
		if p.FlagName() == name {
			return p.Placeholder()
		}
	}
	return "VALUE"
}

// FlagSyntax is how a flag is written: "-t, --tag TAG", short names first,
// the placeholder once.
func FlagSyntax(f cli.Flag) string {
	names := append([]string(nil), f.Names()...)
	sort.SliceStable(names, func(i, j int) bool { return len(names[i]) == 1 && len(names[j]) > 1 })
	for i, n := range names {
		if len(n) == 1 {
			names[i] = "-" + n
		} else {
			names[i] = "--" + n
		}
	}
	s := strings.Join(names, ", ")
	if df, ok := f.(cli.DocGenerationFlag); ok && df.TakesValue() {
		s += " " + placeholder(f.Names()[0])
	}
	return s
}

// FlagUsage is the flag's help text with its default, said once: the
// parameters' defaults are in their usage already (from the table); a
// flag with a Go default (quickCheck's --level) gets it here.
func FlagUsage(f cli.Flag) string {
	df, ok := f.(cli.DocGenerationFlag)
	if !ok {
		return ""
	}
	u := df.GetUsage()
	if d := df.GetDefaultText(); d != "" && df.TakesValue() {
		u += " (default " + d + ")"
	}
	return u
}

// flagString renders a flag for --help in place of urfave's, which writes
// "value" for every placeholder.
func flagString(f cli.Flag) string { return FlagSyntax(f) + "\t" + FlagUsage(f) }

// repeatedFlag refuses a flag given twice, which urfave/cli would take
// silently, the last winning: --allow A --allow B would drop A.
func repeatedFlag(args []string, flags []cli.Flag) error {
	byName := map[string]cli.Flag{}
	for _, f := range flags {
		for _, n := range f.Names() {
			byName[n] = f
		}
	}
	seen := map[cli.Flag]string{}
	for i := 0; i < len(args); i++ {
		if args[i] == "--" {
			break
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		f, ok := byName[name]
		if !ok || !strings.HasPrefix(args[i], "-") {
			continue
		}
		if df, ok := f.(cli.DocGenerationFlag); ok && df.TakesValue() && !hasValue {
			i++ // its value, whatever it looks like
		}
		written := dashed(name)
		if prev, dup := seen[f]; dup {
			also := ""
			if prev != written {
				also = " (also as " + prev + ")"
			}
			return fmt.Errorf("%s is given twice%s: give it once%s", written, also, listHint(f))
		}
		seen[f] = written
	}
	return nil
}

// listHint tells how to give several values of a list parameter.
func listHint(f cli.Flag) string {
	for _, p := range config.Params {
		if p.FlagName() == f.Names()[0] && p.Kind == config.CIDRs {
			return fmt.Sprintf(", with the values as one comma-separated list (--%s 168.63.129.16,fe80::1234:5678:9abc)", p.FlagName())
		}
	}
	return ""
}

// switchHint explains an argument that follows a switch as if it were
// its value (--source true): switches take none, or =VALUE.
func switchHint(args []string, arg string, flags []cli.Flag) string {
	for i := 1; i < len(args); i++ {
		if args[i] != arg {
			continue
		}
		name := strings.TrimLeft(args[i-1], "-")
		for _, f := range flags {
			if df, ok := f.(cli.DocGenerationFlag); ok && !df.TakesValue() && slices.Contains(f.Names(), name) && strings.HasPrefix(args[i-1], "-") {
				return fmt.Sprintf(": %s is a switch: write %s alone, or %s=%s", args[i-1], args[i-1], args[i-1], arg)
			}
		}
	}
	return ": parameters are flags, such as --port 12345"
}

// singleDash matches a flag name Go's flag package writes with one dash
// in its errors ("flag needs an argument: -port").
var singleDash = regexp.MustCompile(`(^|[\s:])-([A-Za-z][\w-]+)`)

// twoForms is urfave/cli's error for a flag given under two names.
var twoForms = regexp.MustCompile(`^Cannot use two forms of the same flag: (\S+) (\S+)$`)

// usageMessage words a usage error as --help writes flags: Go's flag
// package writes one dash ("flag needs an argument: -port") and urfave
// bare names ("two forms of the same flag: t tag").
func usageMessage(err error) string {
	msg := err.Error()
	if m := twoForms.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("%s and %s are the same flag: give it once", dashed(m[1]), dashed(m[2]))
	}
	return singleDash.ReplaceAllString(msg, "$1--$2")
}

// dashed writes a flag name as on the command line: -t, --tag.
func dashed(name string) string { return strings.Repeat("-", min(len(name), 2)) + name }
