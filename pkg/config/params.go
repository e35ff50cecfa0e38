// Package config declares every ilbvip parameter once, in one table, and
// loads a resource's configuration from flags, OCF_RESKEY_* environment,
// the LifeKeeper info field, the YAML file and defaults (highest first).
// Flags, environment names, YAML keys, --help, OCF meta-data and the
// reference docs are all generated from the table, so nothing keeps a
// second copy that could drift.
package config

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Kind is a parameter's value type, as shown in docs and OCF meta-data.
type Kind string

// The kinds of parameter values.
const (
	String   Kind = "string"
	Integer  Kind = "integer"
	Boolean  Kind = "boolean"
	Duration Kind = "duration"
	Address  Kind = "ip"
	CIDRs    Kind = "cidr-list"
	Choice   Kind = "choice"
)

// Param declares one parameter.
type Param struct {
	Name    string   // lower_snake: the YAML key, OCF_RESKEY_<Name>, --name
	Kind    Kind     // value type
	Default string   // textual default, "" for none
	Choices []string // for Choice
	Short   string   // one line
	// Arg is the value's placeholder in --help and the man pages ("PORT");
	// "" takes the kind's (see Placeholder).
	Arg string
	// DefaultText words the default where it is no value to show ("all
	// addresses, IPv4 and IPv6"); with Default set it is not used.
	DefaultText string
	Long        string // a paragraph for docs and meta-data
	Unique      bool   // OCF: no two resources may share the value
	// set parses s into c; the error says what is wrong and how to fix it,
	// without the parameter name (the caller adds it).
	set func(c *Config, s string) error
}

// Placeholder names the parameter's value in --help and the man pages.
func (p Param) Placeholder() string {
	if p.Arg != "" {
		return p.Arg
	}
	switch p.Kind {
	case Duration:
		return "DURATION"
	case Address:
		return "ADDR"
	case CIDRs:
		return "CIDRS"
	case Choice:
		return strings.Join(p.Choices, "|")
	case Integer:
		return "N"
	}
	return "VALUE"
}

// DefaultDoc is the default as the docs show it: the value, else the
// words for it; "" when there is none.
func (p Param) DefaultDoc() string {
	if p.Default != "" {
		return p.Default
	}
	return p.DefaultText
}

// EnvName is the environment variable Pacemaker sets for the parameter.
func (p Param) EnvName() string { return "OCF_RESKEY_" + p.Name }

// FlagName is the command-line flag (without dashes).
func (p Param) FlagName() string { return strings.ReplaceAll(p.Name, "_", "-") }

// Limits shared by validation and docs.
const (
	MaxMessage  = 1024
	MaxHTTPPath = 256
	MaxAllow    = 32
	MaxTag      = 64
)

// Clouds are the values of the cloud parameter.
var Clouds = []string{"auto", "azure", "gcp", "aws", "none"}

// Params is the table: the one source of truth for every parameter.
var Params = []Param{
	{
		Name: "tag", Arg: "TAG", Kind: String, Unique: true,
		Short: "Resource tag: names the resource, its config file and state files",
		Long: "The resource's name, as the cluster manager knows it (LifeKeeper tag, Pacemaker resource id). " +
			"It names the config file (/etc/ilbvip/TAG.yaml) and the state files. Letters, digits, '.', '_' and '-', " +
			"starting with a letter or digit, at most 64 characters.",
		set: func(c *Config, s string) error {
			if err := ValidTag(s); err != nil {
				return err
			}
			c.Tag = s
			return nil
		},
	},
	{
		Name: "port", Arg: "PORT", Kind: Integer, Unique: true,
		Short: "TCP port the load balancer probes (required)",
		Long: "The health-probe port configured on the load balancer's probe. Only the active node listens on it, " +
			"so the load balancer sends VIP traffic to that node alone.",
		set: func(c *Config, s string) error {
			n, err := strconv.ParseUint(s, 10, 16)
			if err != nil || n == 0 {
				return fmt.Errorf("%q is not a port number: use 1-65535", s)
			}
			c.Port = uint16(n)
			return nil
		},
	},
	{
		Name: "protocol", Kind: Choice, Default: "tcp", Choices: []string{"tcp", "http"},
		Short: "Probe protocol: tcp (accept, optional message) or http (GET answered 200)",
		Long: "tcp: a probe succeeds when the connection is accepted (the responder writes 'message' if set and closes). " +
			"http: GET or HEAD of http_path is answered 200, other paths 404, and 503 while draining.",
		set: func(c *Config, s string) error {
			// The error quotes what the user typed, not its lower case.
			v := strings.ToLower(s)
			if v != "tcp" && v != "http" {
				return fmt.Errorf("%q is not a protocol: use tcp or http", s)
			}
			c.Protocol = v
			return nil
		},
	},
	{
		Name: "message", Arg: "TEXT", Kind: String,
		Short: "TCP mode: bytes sent to each probe on accept (as SIOS LBHC's response message)",
		Long: fmt.Sprintf("Sent on every accepted TCP probe, then the connection is closed. "+
			"Empty sends nothing (a plain TCP probe succeeds on the handshake). At most %d bytes, printable text.", MaxMessage),
		set: func(c *Config, s string) error {
			if len(s) > MaxMessage {
				return fmt.Errorf("is %d bytes long: use at most %d", len(s), MaxMessage)
			}
			for _, r := range s {
				if r < 0x20 && r != '\t' || r == 0x7f {
					return fmt.Errorf("contains a control character (%U): use printable text", r)
				}
			}
			c.Message = s
			return nil
		},
	},
	{
		Name: "http_path", Arg: "PATH", Kind: String, Default: "/",
		Short: "HTTP mode: the path answered with 200",
		Long:  "The path of the load balancer's HTTP probe. Starts with '/', no spaces, at most 256 characters; the query string is ignored.",
		set: func(c *Config, s string) error {
			if !strings.HasPrefix(s, "/") {
				return fmt.Errorf("%q does not start with '/': write it as /%s", s, s)
			}
			if len(s) > MaxHTTPPath {
				return fmt.Errorf("is %d characters long: use at most %d", len(s), MaxHTTPPath)
			}
			for _, r := range s {
				if r <= 0x20 || r == 0x7f || r > 0x7e {
					return fmt.Errorf("%q contains a space or non-ASCII character: percent-encode it", s)
				}
			}
			c.HTTPPath = s
			return nil
		},
	},
	{
		Name: "bind", Kind: Address,
		Short: "Address the responder listens on", DefaultText: "all addresses, IPv4 and IPv6",
		Long: "Listen on one local address only, for example the node's address in the backend pool, in the VIP's " +
			"IP family (the load balancer probes in the frontend's). Empty listens on every address. " +
			"Azure, AWS: the probes go to the NIC's own address, never to a VIP. Google Cloud: they go to the " +
			"forwarding rule's IP, so leave bind unset, or, without vip (another resource holds the VIP), set it to " +
			"that IP.",
		set: func(c *Config, s string) error {
			a, err := parseIP(s)
			if err != nil {
				return err
			}
			c.Bind = a
			return nil
		},
	},
	{
		Name: "allow", Kind: CIDRs,
		Short: "Probe sources allowed to see the port, as CIDRs", DefaultText: "any source",
		Long: "Comma-separated (or a YAML list) of source addresses or CIDRs that may probe. Others get no answer: " +
			"on Linux a socket filter drops their SYNs, so even a plain TCP probe cannot succeed. " +
			"Azure: 168.63.129.16, and for IPv6 probes fe80::1234:5678:9abc (a link-local source, sent to the node's global " +
			"IPv6 address; matched by address, whatever the interface). GCP: 35.191.0.0/16,130.211.0.0/22 " +
			"(IPv6 health checks: 2600:2d00:1:b029::/64, 2600:2d00:1:1::/64). " +
			"AWS: every subnet of the Network Load Balancer, or the VPC CIDR (its health checks come from its own " +
			"address in each subnet). " +
			"The node's own self-probe (127.0.0.1, ::1, the bind address) is always allowed.",
		set: func(c *Config, s string) error {
			var out []netip.Prefix
			for _, f := range strings.Split(s, ",") {
				f = strings.TrimSpace(f)
				if f == "" {
					continue
				}
				p, err := parsePrefix(f)
				if err != nil {
					return err
				}
				out = append(out, p)
			}
			if len(out) > MaxAllow {
				return fmt.Errorf("has %d entries: use at most %d (merge them into wider CIDRs)", len(out), MaxAllow)
			}
			c.Allow = out
			return nil
		},
	},
	{
		Name: "vip", Kind: Address, Unique: true,
		Short: "The virtual IP (the load balancer's frontend IP)", DefaultText: "none: responder only",
		Long: "Added as a /32 (IPv6: /128) on 'interface' before the responder starts, deleted after it stops. " +
			"Without it ilbvip is a pure load-balancer health-check responder, next to a separate IP resource.",
		set: func(c *Config, s string) error {
			a, err := parseIP(s)
			if err != nil {
				return err
			}
			if a.IsUnspecified() || a.IsLoopback() || a.IsMulticast() || a.IsLinkLocalUnicast() {
				return fmt.Errorf("%s cannot be a VIP: use the load balancer's frontend address", a)
			}
			c.VIP = a
			return nil
		},
	},
	{
		Name: "prefix", Arg: "BITS", Kind: Integer,
		Short: "VIP prefix length", DefaultText: "32 for IPv4, 128 for IPv6",
		Long: "Keep the default: a host route is what a floating-IP load balancer needs, and a shorter prefix " +
			"would add a subnet route on the VIP interface.",
		set: func(c *Config, s string) error {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > 128 {
				return fmt.Errorf("%q is not a prefix length: use 32 for IPv4 or 128 for IPv6", s)
			}
			c.Prefix = n
			return nil
		},
	},
	{
		Name: "interface", Arg: "IFACE", Kind: String,
		Short: "Interface that carries the VIP (required with vip)",
		Long: "On Linux an interface name (eth1). On Windows the interface alias (\"Ethernet 2\"); there the VIP " +
			"must not be on the NIC in the load balancer's backend pool.",
		set: func(c *Config, s string) error {
			if err := ValidInterface(goos, s); err != nil {
				return err
			}
			c.Interface = s
			return nil
		},
	},
	{
		Name: "source", Kind: Boolean, Default: "false",
		Short: "May the VIP be the source address of outbound traffic",
		Long: "Default false: the node keeps using its own address for outbound connections, as the load balancer " +
			"expects. Linux: an IPv4 VIP is added with scope host, an IPv6 VIP deprecated (preferred lifetime 0), " +
			"so the kernel's source selection skips it. Windows: SkipAsSource.",
		set: func(c *Config, s string) error {
			b, err := parseBool(s)
			if err != nil {
				return err
			}
			c.Source = b
			return nil
		},
	},
	{
		Name: "arp_count", Kind: Integer, Default: "0",
		Short: "Gratuitous ARPs (IPv6: unsolicited NAs) sent after adding the VIP",
		Long: "Cloud networks ignore them, hence 0. On-premises or in a lab, 5 tells the neighbours at once " +
			"that the VIP moved. At most 100, sent 200 ms apart.",
		set: func(c *Config, s string) error {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 || n > 100 {
				return fmt.Errorf("%q is not a count: use 0-100", s)
			}
			c.ARPCount = n
			return nil
		},
	},
	{
		Name: "drain", Kind: Duration, Default: "0s",
		Short: "On remove: wait between silencing the probe and deleting the VIP",
		Long: "Lets the load balancer see the probe fail and established connections finish before the VIP goes. " +
			"In http mode the responder answers 503 during the wait; in tcp mode it stops listening at once. " +
			"At most 10m. With LifeKeeper or by hand it must be shorter than action_timeout. Under Pacemaker each operation has its own timeout, " +
			"so drain is judged at stop: give the stop operation a timeout of drain + 10s; a shorter one cuts the wait (with a warning) so that the stop still succeeds in time.",
		set: func(c *Config, s string) error {
			d, err := parseDuration(s, 0, 10*time.Minute)
			if err != nil {
				return err
			}
			c.Drain = d
			return nil
		},
	},
	{
		Name: "conn_timeout", Kind: Duration, Default: "2s",
		Short: "How long the responder keeps one probe connection open",
		Long:  "A silent or slow client is closed after this. 100ms to 60s.",
		set: func(c *Config, s string) error {
			d, err := parseDuration(s, 100*time.Millisecond, time.Minute)
			if err != nil {
				return err
			}
			c.ConnTimeout = d
			return nil
		},
	},
	{
		Name: "probe_timeout", Kind: Duration, Default: "0s",
		Short: "Require load-balancer probes: restore waits for the first, quickCheck fails without one this long (0: off)",
		Long: "SIOS LB Health Check parity. When set, restore succeeds only once a probe from a source other than " +
			"this node arrived (it fails, removing what it added, after this long), and quickCheck fails when no such " +
			"probe came within this long. A probe counts once its handshake completed (tcp) or it asked for http_path " +
			"with GET or HEAD (http), from a source allow lets in: SYNs alone (half-open probes, or SYNs the allow " +
			"filter drops) do not; a half-open prober still gets its SYN-ACK from the kernel, and so sees the node healthy, " +
			"but the responder never learns of it, so do not use probe_timeout with one. Use a few probe intervals (Azure probes every 5s by default: 15s). At most 10m. " +
			"With LifeKeeper or by hand it must be shorter than action_timeout; under Pacemaker give the start operation probe_timeout + 5s (a shorter one cuts the wait, and restore fails in time).",
		set: func(c *Config, s string) error {
			d, err := parseDuration(s, 0, 10*time.Minute)
			if err != nil {
				return err
			}
			c.ProbeTimeout = d
			return nil
		},
	},
	{
		Name: "action_timeout", Kind: Duration, Default: "20s",
		Short: "Budget of one action; Pacemaker's OCF_RESKEY_CRM_meta_timeout overrides it",
		Long: "Every action finishes inside it: stop escalates from TERM to KILL within it. Under Pacemaker the " +
			"operation's timeout is used instead. 1s to 10m.",
		set: func(c *Config, s string) error {
			d, err := parseDuration(s, time.Second, 10*time.Minute)
			if err != nil {
				return err
			}
			c.ActionTimeout = d
			return nil
		},
	},
	{
		Name: "state_dir", Arg: "DIR", Kind: String, Default: defaultStateDir(goos, getenv),
		Short: "Directory for pid, lock and stats files (created 0700)",
		Long:  "An absolute path, private to root. Files in it are removed by remove; logs stay.",
		set: func(c *Config, s string) error {
			if !isAbs(goos, s) {
				return fmt.Errorf("%q is not an absolute path: use for example %s", s, defaultStateDir(goos, getenv))
			}
			if strings.ContainsRune(s, 0) {
				return fmt.Errorf("contains a NUL byte")
			}
			// One spelling per directory: the responder's command line
			// carries it, and a lost pid file is found by that line.
			c.StateDir = filepath.Clean(s)
			return nil
		},
	},
	{
		Name: "cloud", Kind: Choice, Default: "auto", Choices: Clouds,
		Short: "The load balancer's cloud (auto: from the firmware's DMI strings)",
		Long: "Selects the cloud's rules for quickCheck --diagnose and quickCheck --verbose: where the load balancer " +
			"sends its probe (Azure: the node's own address; Google Cloud: the VIP, so bind must stay unset), " +
			"its probe sources (IPv6 included), and what a VIP on the node means there (an AWS Network Load Balancer " +
			"has no Floating IP). auto reads /sys/class/dmi/id; none is for on premises or another cloud. " +
			"It never changes what restore does to the node.",
		set: func(c *Config, s string) error {
			for _, k := range Clouds {
				if strings.EqualFold(s, k) {
					c.Cloud = k
					return nil
				}
			}
			// Quoted as the user typed it, so it can be found in their file.
			return fmt.Errorf("%q is not a cloud: use %s", s, strings.Join(Clouds, ", "))
		},
	},
	{
		Name: "log_level", Kind: Choice, Default: "info", Choices: []string{"debug", "info", "warn", "error"},
		Short: "Log level",
		Long:  "debug logs every probe; info logs state changes only.",
		set: func(c *Config, s string) error {
			switch v := strings.ToLower(s); v {
			case "debug", "info", "warn", "error":
				c.LogLevel = v
				return nil
			}
			return fmt.Errorf("%q is not a log level: use debug, info, warn or error", s)
		},
	},
}

// Lookup returns the parameter with the given name.
func Lookup(name string) (Param, bool) {
	for _, p := range Params {
		if p.Name == name {
			return p, true
		}
	}
	return Param{}, false
}

func parseIP(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%q is not an IP address: write it as 10.10.5.200 or fd00::5", s)
	}
	return a.Unmap(), nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if i := strings.IndexByte(s, '%'); i >= 0 {
		zone, bits, _ := strings.Cut(s[i+1:], "/")
		clean := s[:i]
		if bits != "" {
			clean += "/" + bits
		}
		return netip.Prefix{}, fmt.Errorf("%q has a zone (%%%s): write it without, as %s (a link-local source matches on every interface)", s, zone, clean)
	}
	if !strings.Contains(s, "/") {
		a, err := parseIP(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an address or CIDR: write it as 168.63.129.16 or 35.191.0.0/16", s)
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR: write it as 35.191.0.0/16", s)
	}
	if p != p.Masked() {
		return netip.Prefix{}, fmt.Errorf("%q has host bits set: write it as %s", s, p.Masked())
	}
	return p, nil
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true", "yes", "on", "1":
		return true, nil
	case "false", "no", "off", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean: use true or false", s)
}

func parseDuration(s string, lo, hi time.Duration) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		// A bare number is seconds, as in most cluster tools (0.5 too).
		if n, nerr := strconv.ParseFloat(s, 64); nerr == nil && n >= 0 && n < 1e6 {
			d, err = time.Duration(n*float64(time.Second)), nil
		}
	}
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration: write it as 500ms, 5s or 1m", s)
	}
	if d < lo || d > hi {
		return 0, fmt.Errorf("%s is out of range: use %s to %s", d, lo, hi)
	}
	return d, nil
}
