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

// checkArgs refuses what urfave/cli would take silently: a flag given
// twice (the last would win: --allow A --allow B would drop A), and a
// flag whose value is missing, so that it takes the next flag as its
// value (--vip --interface eth1).
func checkArgs(args []string, flags []cli.Flag) error {
	byName := flagsByName(flags)
	seen := map[cli.Flag]string{}     // flag: how it was first written
	values := map[cli.Flag][]string{} // flag: its values, for the hint
	for i := 0; i < len(args); i++ {
		if args[i] == "--" {
			break
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		f, ok := byName[name]
		if !ok || !strings.HasPrefix(args[i], "-") {
			continue
		}
		written := dashed(name)
		if df, ok := f.(cli.DocGenerationFlag); ok && df.TakesValue() && !hasValue && i+1 < len(args) {
			i++
			value = args[i]
			if next, _, _ := strings.Cut(strings.TrimLeft(value, "-"), "="); strings.HasPrefix(value, "-") && byName[next] != nil {
				return fmt.Errorf("%s has no value: it would take %q as its value (write %s=%s if you mean that)", written, value, written, value)
			}
		}
		values[f] = append(values[f], value)
		if prev, dup := seen[f]; dup {
			also := ""
			if prev != written {
				also = " (also as " + prev + ")"
			}
			return fmt.Errorf("%s is given twice%s: give it once%s", written, also, listHint(f, values[f]))
		}
		seen[f] = written
	}
	return nil
}

// flagsByName maps every name of every flag to it.
func flagsByName(flags []cli.Flag) map[string]cli.Flag {
	byName := map[string]cli.Flag{}
	for _, f := range flags {
		for _, n := range f.Names() {
			byName[n] = f
		}
	}
	return byName
}

// listHint tells how to give several values of a list parameter: the
// values given, as one list.
func listHint(f cli.Flag, values []string) string {
	for _, p := range config.Params {
		if p.FlagName() == f.Names()[0] && p.Kind == config.CIDRs {
			return fmt.Sprintf(", with the values as one comma-separated list (--%s %s)", p.FlagName(), strings.Join(values, ","))
		}
	}
	return ""
}

// boolWords are the switch values the YAML file and OCF_RESKEY_ accept
// besides Go's: --source=yes works as source: yes does.
var boolWords = map[string]string{"yes": "true", "on": "true", "no": "false", "off": "false"}

// normalizeSwitches rewrites --switch=yes|on|no|off to true or false.
func normalizeSwitches(args []string, flags []cli.Flag) []string {
	byName := flagsByName(flags)
	out := append([]string(nil), args...)
	for i, a := range out {
		if a == "--" {
			break
		}
		name, value, ok := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f := byName[name]
		if w, known := boolWords[strings.ToLower(value)]; ok && known && f != nil && strings.HasPrefix(a, "-") {
			if df, isDoc := f.(cli.DocGenerationFlag); isDoc && !df.TakesValue() {
				out[i] = a[:len(a)-len(value)] + w
			}
		}
	}
	return out
}

// unknownFlag is Go's flag package's error for a flag it does not know.
var unknownFlag = regexp.MustCompile(`^flag provided but not defined: -+(\S+)$`)

// didYouMean names the closest flag to an unknown one, else points to
// action's --help.
func didYouMean(action, msg string, flags []cli.Flag) string {
	m := unknownFlag.FindStringSubmatch(msg)
	if m == nil {
		return ""
	}
	var names []string
	for n := range flagsByName(flags) {
		if len(n) > 1 {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if best, ok := config.Closest(m[1], names); ok && len(m[1]) > 2 {
		return fmt.Sprintf(": did you mean --%s?", best)
	}
	return ": " + action + " --help lists the flags"
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
