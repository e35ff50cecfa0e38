package config

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
)

// goos and getenv are variables so tests can check another OS's rules.
var (
	goos   = runtime.GOOS
	getenv = os.Getenv
)

// ValidTag reports why s cannot be a tag. A tag names files, so it must not
// carry path separators, "..", NUL or shell metacharacters.
func ValidTag(s string) error {
	if s == "" {
		return errors.New("is empty: give the resource's tag with -t TAG")
	}
	if len(s) > MaxTag {
		return fmt.Errorf("is %d characters long: use at most %d", len(s), MaxTag)
	}
	for i, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if i > 0 {
			ok = ok || r == '.' || r == '_' || r == '-'
		}
		if !ok {
			return fmt.Errorf("%q contains %q: use letters, digits, '.', '_' and '-', starting with a letter or digit", s, r)
		}
	}
	return nil
}

// ValidInterface reports why name cannot be an interface on os.
// Linux names are at most 15 bytes; Windows aliases may have spaces
// ("Ethernet 2") and may be an interface index.
func ValidInterface(os, name string) error {
	if name == "" {
		return errors.New("is empty: name the interface that carries the VIP")
	}
	if os == "windows" {
		if len(name) > 256 {
			return fmt.Errorf("is %d characters long: use the interface alias from Get-NetAdapter", len(name))
		}
		for _, r := range name {
			if r < 0x20 || r == 0x7f || strings.ContainsRune(`/\:*?"<>|&;$%!^`+"`", r) {
				return fmt.Errorf("%q contains %q: use the interface alias from Get-NetAdapter, such as \"Ethernet 2\"", name, r)
			}
		}
		return nil
	}
	if len(name) > 15 {
		return fmt.Errorf("%q is longer than 15 bytes: use the name from 'ip link'", name)
	}
	if name == "." || name == ".." {
		return fmt.Errorf("%q is not an interface name: use the name from 'ip link'", name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("%q contains %q: use the name from 'ip link', such as eth1", name, r)
		}
	}
	return nil
}

// defaultStateDir is /run/ilbvip, or %ProgramData%\ilbvip on Windows.
func defaultStateDir(os string, env func(string) string) string {
	if os == "windows" {
		return programData(env) + `\ilbvip`
	}
	return "/run/ilbvip"
}

// ConfigDir is where TAG.yaml files live: /etc/ilbvip, or
// %ProgramData%\ilbvip on Windows.
func ConfigDir() string { return configDir(goos, getenv) }

func configDir(os string, env func(string) string) string {
	if os == "windows" {
		return programData(env) + `\ilbvip`
	}
	return "/etc/ilbvip"
}

// DefaultConfigPath is the file read for tag when -c is not given.
func DefaultConfigPath(tag string) string { return joinPath(goos, ConfigDir(), tag+".yaml") }

func programData(env func(string) string) string {
	if p := env("ProgramData"); p != "" {
		return p
	}
	return `C:\ProgramData`
}

func joinPath(os, dir, name string) string {
	if os == "windows" {
		return strings.TrimRight(dir, `\`) + `\` + name
	}
	return strings.TrimRight(dir, "/") + "/" + name
}

func isAbs(os, p string) bool {
	if os == "windows" {
		return len(p) >= 3 && (p[0]|0x20 >= 'a' && p[0]|0x20 <= 'z') && p[1] == ':' && (p[2] == '\\' || p[2] == '/') ||
			strings.HasPrefix(p, `\\`)
	}
	return strings.HasPrefix(p, "/")
}
