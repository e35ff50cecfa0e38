package app

import (
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
