// Package lifekeeper reads a resource's parameters from SIOS LifeKeeper:
// the tag's info field, as `$LKROOT/bin/ins_list -t TAG -f:` prints it,
// in SIOS LB Health Check's format "PORT [MESSAGE]" or as key=value pairs
// of any ilbvip parameter. It runs ins_list directly, never via a shell.
package lifekeeper

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/ilbvip/ilbvip/pkg/config"
)

// InsListTimeout bounds one ins_list call: well inside LifeKeeper's own
// quickCheck limits (the IP kit's IP_QUICKCHECK_TIMEOUT is 12 s), before
// the action's own budget starts.
const InsListTimeout = 5 * time.Second

// InsList is ins_list's path below LKROOT.
const InsList = "bin/ins_list"

// infoFieldIndex is the info field's position (1-based) in ins_list -f: output.
const infoFieldIndex = 6

// Enabled reports the ins_list to run: $LKROOT/bin/ins_list, or — when
// LKROOT is not in the environment (an admin's shell, a cron job) —
// ins_list below LifeKeeper's default installation directory (DefaultRoot).
func Enabled(env func(string) (string, bool)) (string, bool) {
	root, ok := env("LKROOT")
	if !ok || root == "" {
		root = DefaultRoot
	}
	if root == "" {
		return "", false
	}
	return findInsList(filepath.Join(root, InsList))
}

// InfoField runs ins_list for tag and returns the info field ("" when
// LifeKeeper does not know the tag). When several lines come back (one per
// system), the one whose first field names this host wins; host names
// compare case-insensitively, as LifeKeeper treats them.
func InfoField(ctx context.Context, insList, tag, hostname string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, InsListTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, insList, "-t", tag, "-f:")
	// At the deadline the whole process group goes (a shell's children
	// too), and Wait stops waiting for pipes a straggler still holds.
	ownGroup(cmd)
	cmd.WaitDelay = 500 * time.Millisecond
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil && ctx.Err() != nil {
		// Killed at the deadline: its exit status (1 on Windows, a signal
		// on Linux) would hide why.
		return "", fmt.Errorf("read info field of %s with %s: no answer within %v (LifeKeeper busy or hung?): %w", tag, insList, InsListTimeout, ctx.Err())
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg != "" {
			msg = ": " + msg
		}
		return "", fmt.Errorf("read info field of %s with %s: %w%s", tag, insList, err, msg)
	}
	return pickInfo(string(out), tag, hostname)
}

func pickInfo(out, tag, hostname string) (string, error) {
	var infos []string
	var systems []string
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) < infoFieldIndex {
			return "", fmt.Errorf("ins_list -t %s: line %q has %d fields, want at least %d", tag, line, len(f), infoFieldIndex)
		}
		infos = append(infos, f[infoFieldIndex-1])
		systems = append(systems, f[0])
	}
	switch len(infos) {
	case 0:
		return "", nil
	case 1:
		return infos[0], nil
	}
	for i, s := range systems {
		if strings.EqualFold(s, hostname) {
			return infos[i], nil
		}
	}
	return "", fmt.Errorf("ins_list -t %s: %d lines and none for this host %q (systems: %s)", tag, len(infos), hostname, strings.Join(systems, ", "))
}

// ErrInfo marks an info field that cannot be parsed.
var ErrInfo = errors.New("bad info field")

// ParseInfo reads an info field:
//
//	12345                       port only (SIOS LBHC)
//	12345 hello                 port and the TCP response message
//	12345 vip=10.10.5.200 interface=eth1
//	port=12345 protocol=http http_path=/health
//
// After a leading port, the rest is key=value pairs when every word is one
// with a known key; otherwise it is the message, verbatim. Values cannot
// hold spaces or ':' (ins_list's field separator): use the YAML file for
// those, such as an IPv6 VIP.
//
// After the port, a first word name=... whose name is a parameter or a
// typo of one (config.Near) makes the rest key=value pairs, so a typo or a
// quoted value ("interface=\"Ethernet 2\"") is an error rather than a
// probe message that silently drops the VIP.
func ParseInfo(s string) (map[string]string, error) {
	out := map[string]string{}
	s = strings.TrimSpace(s)
	if s == "" {
		return out, nil
	}
	words := strings.Fields(s)
	rest := words
	if isDigits(words[0]) {
		out["port"] = words[0]
		rest = words[1:]
		if len(rest) > 0 && !allPairs(rest) && !looksLikePair(rest[0]) {
			msg := strings.TrimSpace(strings.TrimPrefix(s, words[0]))
			out["message"] = msg
			return out, nil
		}
	}
	for _, w := range rest {
		if strings.ContainsAny(w, `"'`) {
			return nil, fmt.Errorf("%w: %q: a value cannot be quoted or hold spaces (the info field is split at spaces): "+
				"give interface as its ifIndex (Get-NetAdapter) or put the parameter in the TAG.yaml file", ErrInfo, w)
		}
		k, v, ok := strings.Cut(w, "=")
		if !ok {
			return nil, fmt.Errorf("%w: %q is neither PORT [MESSAGE] nor key=value: write for example \"12345 hello\" or \"port=12345 vip=10.10.5.200 interface=eth1\"", ErrInfo, w)
		}
		if _, known := config.Lookup(k); !known {
			return nil, fmt.Errorf("%w: %q: unknown parameter %q (known: %s)", ErrInfo, w, k, strings.Join(config.Names(), ", "))
		}
		if k == "tag" {
			return nil, fmt.Errorf("%w: %q: the tag is LifeKeeper's, not part of the info field", ErrInfo, w)
		}
		if prev, dup := out[k]; dup {
			hint := ""
			if p, _ := config.Lookup(k); p.Kind == config.CIDRs {
				hint = fmt.Sprintf(", with the values as one comma-separated list (%s=%s,%s)", k, prev, v)
			}
			return nil, fmt.Errorf("%w: %s given twice: keep one%s", ErrInfo, k, hint)
		}
		if v == "" {
			return nil, fmt.Errorf("%w: %q has no value", ErrInfo, w)
		}
		out[k] = v
	}
	return out, nil
}

func allPairs(words []string) bool {
	for _, w := range words {
		k, _, ok := strings.Cut(w, "=")
		if !ok {
			return false
		}
		if _, known := config.Lookup(k); !known {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// looksLikePair: w is name=... where name is a parameter or a typo of one.
func looksLikePair(w string) bool {
	k, _, ok := strings.Cut(w, "=")
	return ok && config.Near(k)
}
