package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ilbvip/ilbvip/pkg/ocf"
)

// Config is one resource's validated configuration.
type Config struct {
	Tag           string
	Port          uint16
	Protocol      string
	Message       string
	HTTPPath      string
	Bind          netip.Addr // zero: all addresses
	Allow         []netip.Prefix
	VIP           netip.Addr // zero: responder only
	Prefix        int
	Interface     string
	Source        bool
	ARPCount      int
	Drain         time.Duration
	ConnTimeout   time.Duration
	ProbeTimeout  time.Duration
	ActionTimeout time.Duration
	StateDir      string
	LogLevel      string
	Cloud         string // auto, azure, gcp, aws, none

	// File is the YAML file that was read, "" when none.
	File string
	// Origin says where each set parameter came from ("flag --port",
	// "OCF_RESKEY_port", "info field", "/etc/ilbvip/x.yaml", "default").
	Origin map[string]string
}

// HasVIP reports whether the resource manages a VIP.
func (c *Config) HasVIP() bool { return c.VIP.IsValid() }

// Error is a configuration error: it names the parameter, where its value
// came from and how to fix it, on one line.
type Error struct {
	Param  string // "" when the error is about the file as a whole
	Origin string
	Msg    string
	Code   int
}

func (e *Error) Error() string {
	switch {
	case e.Param != "" && e.Origin != "":
		return fmt.Sprintf("%s (from %s): %s", e.Param, e.Origin, e.Msg)
	case e.Param != "":
		return fmt.Sprintf("%s: %s", e.Param, e.Msg)
	case e.Origin != "":
		return fmt.Sprintf("%s: %s", e.Origin, e.Msg)
	}
	return e.Msg
}

// Sources are the places a configuration comes from, highest first.
type Sources struct {
	Flags map[string]string // parameters given as flags, by parameter name
	// Env looks up environment variables (os.LookupEnv when nil).
	Env func(string) (string, bool)
	// Info holds parameters from the LifeKeeper info field.
	Info map[string]string
	// ConfigFile is the YAML file named with -c; "" reads the default
	// file for the tag, which may be absent.
	ConfigFile string
	// Euid is the effective uid; when 0 a config file writable by group or
	// others is refused. -1 skips the check.
	Euid int
}

// Load builds and validates a Config from the sources. Every error is an
// *Error. It reads, and never writes, anything.
func Load(src Sources) (*Config, error) {
	c, _, err := load(src, false)
	return c, err
}

// LoadForStop builds what a stop needs when Load fails: a resource whose
// configuration became wrong after it started must still be stopped
// (Pacemaker requires a stop to succeed whenever it can). Only tag and
// state_dir must be valid, since they say where the resource's state is;
// any other parameter that is wrong takes its default (or stays unset),
// and ignored lists why. Combinations are not checked.
func LoadForStop(src Sources) (c *Config, ignored []error, err error) {
	return load(src, true)
}

func load(src Sources, forStop bool) (*Config, []error, error) {
	c, vals, origin, ignored, err := collect(src, forStop)
	if err != nil {
		return nil, nil, err
	}
	for _, p := range Params {
		v, ok := vals[p.Name]
		from := origin[p.Name]
		if !ok {
			if p.Default == "" {
				continue
			}
			v, from = p.Default, "default"
		}
		if err := p.set(c, v); err != nil {
			e := &Error{Param: p.Name, Origin: from, Msg: err.Error(), Code: ocf.ErrConfigured}
			if !forStop || p.Name == "tag" || p.Name == "state_dir" {
				return nil, nil, e
			}
			ignored = append(ignored, e)
			if p.Default != "" {
				_ = p.set(c, p.Default)
			}
			continue
		}
		c.Origin[p.Name] = from
	}
	if forStop {
		return c, ignored, nil
	}
	if err := c.validate(src.Env); err != nil {
		return nil, nil, err
	}
	return c, nil, nil
}

// collect gathers every parameter's text and origin from the sources,
// highest first, and reads the config file. For a stop, a config file that
// cannot be read is left out (and reported in ignored): the flags, the
// environment and the defaults still say where the state is.
func collect(src Sources, forStop bool) (c *Config, vals, origin map[string]string, ignored []error, err error) {
	vals, origin = map[string]string{}, map[string]string{}
	// Highest first: flags, environment, info field; the file comes next,
	// and it needs the tag first.
	if err := collectGiven(src, vals, origin); err != nil {
		return nil, nil, nil, nil, err
	}
	tag, ok := vals["tag"]
	if !ok {
		return nil, nil, nil, nil, &Error{Param: "tag", Msg: "is missing: give the resource's tag with -t TAG", Code: ocf.ErrArgs}
	}
	if err := ValidTag(tag); err != nil {
		return nil, nil, nil, nil, &Error{Param: "tag", Origin: origin["tag"], Msg: err.Error(), Code: ocf.ErrConfigured}
	}
	c = &Config{Origin: map[string]string{}}
	if c.File, ignored, err = collectFile(src, forStop, tag, vals, origin); err != nil {
		return nil, nil, nil, nil, err
	}
	return c, vals, origin, ignored, nil
}

// putFirst records a parameter's text and origin unless a higher source
// gave it already.
func putFirst(vals, origin map[string]string, name, v, from string) {
	if _, done := vals[name]; !done {
		vals[name], origin[name] = v, from
	}
}

// collectGiven gathers what the flags, the environment and the info field
// give, in that order.
func collectGiven(src Sources, vals, origin map[string]string) error {
	env := src.Env
	if env == nil {
		env = os.LookupEnv
	}
	for name, v := range src.Flags {
		if _, ok := Lookup(name); !ok {
			return &Error{Param: name, Msg: "is not a parameter", Code: ocf.ErrArgs}
		}
		if v != "" {
			putFirst(vals, origin, name, v, "flag --"+strings.ReplaceAll(name, "_", "-"))
		}
	}
	for _, p := range Params {
		if v, ok := env(p.EnvName()); ok && v != "" {
			putFirst(vals, origin, p.Name, v, p.EnvName())
		}
	}
	for name, v := range src.Info {
		if _, ok := Lookup(name); !ok {
			return &Error{Param: name, Origin: "info field", Msg: "is not a parameter" + suggest(name), Code: ocf.ErrConfigured}
		}
		putFirst(vals, origin, name, v, "info field")
	}
	return nil
}

// collectFile reads the config file (-c, or the tag's default path) below
// the sources already gathered. file: the file read, "" when none.
func collectFile(src Sources, forStop bool, tag string, vals, origin map[string]string) (file string, ignored []error, err error) {
	file, explicit := src.ConfigFile, src.ConfigFile != ""
	if !explicit {
		file = DefaultConfigPath(tag)
	}
	fileVals, err := readFile(file, src.Euid)
	if err != nil && forStop && !(errors.Is(err, fs.ErrNotExist) && !explicit) {
		ignored = append(ignored, err)
		err, fileVals = fs.ErrNotExist, nil
		explicit = false
	}
	switch {
	case err == nil:
		for _, k := range sortedKeys(fileVals) {
			putFirst(vals, origin, k, fileVals[k], file)
		}
		if t := fileVals["tag"]; t != "" && t != tag {
			return "", nil, &Error{Param: "tag", Origin: file, Msg: fmt.Sprintf("is %q but the resource is %q: fix the file or its name", t, tag), Code: ocf.ErrConfigured}
		}
		return file, ignored, nil
	case errors.Is(err, fs.ErrNotExist) && !explicit:
		return "", ignored, nil // Pacemaker passes everything in the environment: no file is fine
	case errors.Is(err, fs.ErrNotExist):
		return "", nil, &Error{Origin: file, Msg: "config file not found: create it or fix -c", Code: ocf.ErrInstalled}
	}
	return "", nil, err
}

// validate checks what no single parameter can: required values and
// combinations.
func (c *Config) validate(env func(string) (string, bool)) error {
	bad := func(param, msg string) error {
		return &Error{Param: param, Origin: c.Origin[param], Msg: msg, Code: ocf.ErrConfigured}
	}
	if c.Port == 0 {
		return bad("port", "is missing: set the load balancer's probe port, for example port: 12345")
	}
	if c.HasVIP() {
		if c.Interface == "" {
			example := "interface: eth1"
			if goos == "windows" {
				example = `interface: "Ethernet 2" (the alias from Get-NetAdapter, or its ifIndex)`
			}
			return bad("interface", "is missing: a vip needs the interface that carries it, for example "+example)
		}
		full := c.VIP.BitLen()
		if c.Prefix == 0 {
			c.Prefix = full
			c.Origin["prefix"] = "default"
		}
		if c.Prefix > full {
			return bad("prefix", fmt.Sprintf("%d does not fit IPv%d address %s: use %d", c.Prefix, map[int]int{32: 4, 128: 6}[full], c.VIP, full))
		}
		if c.Bind.IsValid() && c.Bind == c.VIP {
			return bad("bind", "is the vip: bind the responder to the node's own address or leave bind empty, so the probe does not depend on the VIP")
		}
	} else {
		if c.Prefix != 0 {
			return bad("prefix", "is set without a vip: set vip or remove prefix")
		}
		if c.ARPCount != 0 {
			return bad("arp_count", "is set without a vip: set vip or remove arp_count")
		}
	}
	if c.Protocol == "http" && c.Message != "" {
		return bad("message", "is for tcp probes only: remove it or use protocol: tcp")
	}
	if c.Protocol == "tcp" && c.Origin["http_path"] != "default" && c.Origin["http_path"] != "" {
		return bad("http_path", "is for http probes only: remove it or use protocol: http")
	}
	if c.Bind.IsValid() && (c.Bind.IsMulticast()) {
		return bad("bind", fmt.Sprintf("%s is multicast: use a local unicast address or leave bind empty", c.Bind))
	}
	_, pacemaker := lookupEnv(env, PacemakerTimeoutEnv)
	// Under Pacemaker restore's budget is the start operation's timeout:
	// restore judges probe_timeout against it (as remove judges drain).
	if !pacemaker && c.ProbeTimeout > 0 && c.ProbeTimeout >= c.ActionTimeout {
		return bad("probe_timeout", fmt.Sprintf("%s is not shorter than action_timeout %s: restore could not wait for the first probe; shorten probe_timeout or raise action_timeout", c.ProbeTimeout, c.ActionTimeout))
	}
	// Pacemaker gives each operation its own timeout, so only remove (the
	// stop operation) can judge drain there: it cuts the wait to fit.
	if !pacemaker && c.Drain >= c.ActionTimeout {
		return bad("drain", fmt.Sprintf("%s is not shorter than action_timeout %s: shorten drain or raise action_timeout", c.Drain, c.ActionTimeout))
	}
	return nil
}

// PacemakerTimeoutEnv carries the operation's timeout in milliseconds when
// Pacemaker runs the action (OCF resource agent API; Pacemaker Explained,
// "Resource Operations").
const PacemakerTimeoutEnv = "OCF_RESKEY_CRM_meta_timeout"

// Budget is an action's time limit: Pacemaker's operation timeout
// (PacemakerTimeoutEnv, ms) when set, else action_timeout. A tenth (at most
// 2 s) is kept back so the action reports before it is killed.
func Budget(actionTimeout time.Duration, env func(string) (string, bool)) time.Duration {
	b := actionTimeout
	if v, ok := lookupEnv(env, PacemakerTimeoutEnv); ok {
		if ms, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && ms > 0 {
			b = time.Duration(ms) * time.Millisecond
		}
	}
	return b - min(b/10, 2*time.Second)
}

func lookupEnv(env func(string) (string, bool), name string) (string, bool) {
	if env == nil {
		env = os.LookupEnv
	}
	v, ok := env(name)
	return v, ok && strings.TrimSpace(v) != ""
}

// readFile reads a strict YAML file into parameter strings. An unknown key
// is an error that names it and the closest known key.
func readFile(path string, euid int) (map[string]string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, &Error{Origin: path, Msg: fmt.Sprintf("cannot read config file: %v", unwrapPath(err)), Code: ocf.ErrInstalled}
	}
	if !fi.Mode().IsRegular() {
		return nil, &Error{Origin: path, Msg: "is not a regular file: point -c at the YAML file", Code: ocf.ErrInstalled}
	}
	if err := writableByOthers(path, fi, euid); err != nil {
		return nil, err
	}
	if fi.Size() > 64<<10 {
		return nil, &Error{Origin: path, Msg: "is larger than 64 KiB: this is not an ilbvip config", Code: ocf.ErrConfigured}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{Origin: path, Msg: fmt.Sprintf("cannot read config file: %v", unwrapPath(err)), Code: ocf.ErrInstalled}
	}
	vals, perr := ParseYAML(b)
	if perr != nil {
		perr.Origin = path
		return nil, perr
	}
	return vals, nil
}

// ParseYAML turns a config document into parameter strings: scalars as
// written, sequences joined with commas. It accepts only known keys.
func ParseYAML(b []byte) (map[string]string, *Error) {
	vals := map[string]string{}
	if len(bytes.TrimSpace(b)) == 0 {
		return vals, nil
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil {
		return nil, &Error{Msg: "is not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: "), Code: ocf.ErrConfigured}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &Error{Msg: "holds more than one YAML document: keep one", Code: ocf.ErrConfigured}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return vals, nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return vals, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, &Error{Msg: fmt.Sprintf("line %d: expected key: value pairs, such as port: 12345", root.Line), Code: ocf.ErrConfigured}
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		key := k.Value
		p, ok := Lookup(key)
		if !ok || k.Kind != yaml.ScalarNode {
			return nil, &Error{Msg: fmt.Sprintf("line %d: unknown key %q%s", k.Line, key, suggest(key)), Code: ocf.ErrConfigured}
		}
		if _, dup := vals[key]; dup {
			return nil, &Error{Param: key, Msg: fmt.Sprintf("line %d: given twice: keep one", k.Line), Code: ocf.ErrConfigured}
		}
		switch {
		case v.Kind == yaml.ScalarNode && v.Tag == "!!null":
			continue // "vip:" with nothing after it means unset
		case v.Kind == yaml.ScalarNode:
			vals[key] = v.Value
		case v.Kind == yaml.SequenceNode && p.Kind == CIDRs:
			var items []string
			for _, it := range v.Content {
				if it.Kind != yaml.ScalarNode {
					return nil, &Error{Param: key, Msg: fmt.Sprintf("line %d: list items must be addresses or CIDRs", it.Line), Code: ocf.ErrConfigured}
				}
				if strings.Contains(it.Value, ",") {
					return nil, &Error{Param: key, Msg: fmt.Sprintf("line %d: %q: one CIDR per list item", it.Line, it.Value), Code: ocf.ErrConfigured}
				}
				items = append(items, it.Value)
			}
			vals[key] = strings.Join(items, ",")
		default:
			return nil, &Error{Param: key, Msg: fmt.Sprintf("line %d: expected a single value (%s)", v.Line, p.Kind), Code: ocf.ErrConfigured}
		}
	}
	return vals, nil
}

// suggest names the closest known parameter, for typos.
func suggest(key string) string {
	if best, ok := Closest(strings.ToLower(strings.ReplaceAll(key, "-", "_")), Names()); ok {
		return fmt.Sprintf(": did you mean %q?", best)
	}
	return fmt.Sprintf(": known keys are %s", strings.Join(Names(), ", "))
}

// Closest is the name in names nearest to key, for a "did you mean": ok
// only when it is close (at most 3 edits, or under half of key's length).
func Closest(key string, names []string) (string, bool) {
	best, bestD := "", 1<<30
	for _, n := range names {
		if d := distance(key, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best, bestD <= 3 || bestD < len(key)/2
}

// Near reports whether key is a parameter's name or within two edits of
// one (a typo of it), as the LifeKeeper info field's parser needs to tell
// "protocl=http" (a mistake) from a probe message such as "status=ok".
func Near(key string) bool {
	key = strings.ToLower(strings.ReplaceAll(key, "-", "_"))
	for _, p := range Params {
		if distance(key, p.Name) <= 2 {
			return true
		}
	}
	return false
}

// Names lists the parameter names in table order.
func Names() []string {
	out := make([]string, len(Params))
	for i, p := range Params {
		out[i] = p.Name
	}
	return out
}

// distance is the Levenshtein edit distance.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
