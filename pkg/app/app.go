// Package app is the command line shared by the four executables: it
// builds the flags from the parameter table, loads and validates the
// configuration, sets the action's budget and logging, runs the action and
// turns its outcome into the exit code. Each main is one call to Main.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/ilbvip/ilbvip/pkg/config"
	"github.com/ilbvip/ilbvip/pkg/daemon"
	"github.com/ilbvip/ilbvip/pkg/doctor"
	"github.com/ilbvip/ilbvip/pkg/lifekeeper"
	"github.com/ilbvip/ilbvip/pkg/metrics"
	"github.com/ilbvip/ilbvip/pkg/ocf"
	"github.com/ilbvip/ilbvip/pkg/resource"
)

// Version is stamped at build time with -ldflags "-X ...app.Version=...".
var Version = "dev"

// Action is one executable.
type Action struct {
	Name  string
	Usage string
	Long  string
	// Flags beyond the parameter table.
	Flags []cli.Flag
	// Run performs the action; out is stdout for reports.
	Run func(ctx context.Context, cc *cli.Context, c *config.Config, o resource.Options, out io.Writer) error
	// Quiet actions log nothing at info level when they succeed.
	Quiet bool
	// Check refuses a combination of the action's own flags (exit 2)
	// before anything is loaded or touched.
	Check func(cc *cli.Context) error
	// ConfigError, when set, writes to out what the action reports when
	// the configuration cannot be loaded (tag: the resource's tag when it
	// is valid, else ""); the error itself still goes to stderr.
	ConfigError func(cc *cli.Context, tag string, out io.Writer)
}

// The four actions.
var (
	Restore = Action{
		Name:  "restore",
		Usage: "bring the resource up: add the VIP, start the probe responder, check it answers",
		Long: "Exit 0 once the VIP is on its interface and the responder answers a self-probe; 0 without change " +
			"when already up. On failure nothing it added is left behind.",
		Run: func(ctx context.Context, _ *cli.Context, c *config.Config, o resource.Options, _ io.Writer) error {
			return resource.Restore(ctx, c, o)
		},
	}
	Remove = Action{
		Name:  "remove",
		Usage: "take the resource down: silence the responder, wait for drain, delete the VIP",
		Long:  "Exit 0 when nothing of the resource is left; absent parts are fine.",
		Run: func(ctx context.Context, _ *cli.Context, c *config.Config, o resource.Options, _ io.Writer) error {
			return resource.Remove(ctx, c, o)
		},
	}
	Recover = Action{
		Name:  "recover",
		Usage: "repair what quickCheck finds broken (restart the responder, re-add the VIP), then check",
		Long:  "Exit 0 when the resource was repaired locally; non-zero tells the cluster manager to fail over.",
		Run: func(ctx context.Context, _ *cli.Context, c *config.Config, o resource.Options, _ io.Writer) error {
			return resource.Recover(ctx, c, o)
		},
	}
	QuickCheck = Action{
		Name:  "quickCheck",
		Usage: "check the resource: responder alive and ours, port answers, VIP on its interface",
		Long: "Read-only. Exit 0 when healthy (silent), 7 when cleanly stopped, 1 when failed, with one line " +
			"saying what is wrong and how to fix it.",
		Quiet: true,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "print a short status for an admin", DisableDefaultText: true},
			&cli.BoolFlag{Name: "json", Usage: "print the status as JSON", DisableDefaultText: true},
			&cli.BoolFlag{Name: "metrics", Usage: "print the status in the Prometheus text format (for node_exporter's textfile collector); the exit code stays quickCheck's", DisableDefaultText: true},
			&cli.IntFlag{Name: "level", Value: 10, Usage: "below 10: process and VIP only; 10 and above: also probe the port (as OCF_CHECK_LEVEL)"},
			&cli.BoolFlag{Name: "diagnose", Usage: "look for the cloud and OS mistakes that break the VIP (firewall, sysctls, allow, port holder, LB probes): one line per check; exit 0 unless a check fails, 1 otherwise; changes nothing", DisableDefaultText: true},
			&cli.BoolFlag{Name: "arp-probe", Usage: "with --diagnose: also send one ARP probe for an IPv4 VIP on its interface to find another holder (on premises only; off by default)", DisableDefaultText: true},
		},
		Check: func(cc *cli.Context) error {
			for _, outs := range [][]string{{"metrics", "json", "verbose", "diagnose"}, {"json", "verbose"}, {"diagnose", "verbose"}} {
				if err := exclusive(cc, outs[0], outs[1:]...); err != nil {
					return err
				}
			}
			if cc.Bool("arp-probe") && !cc.Bool("diagnose") {
				return errors.New("--arp-probe works only with --diagnose")
			}
			return nil
		},
		// A broken configuration still writes metrics that say so: an
		// empty file would only make the metrics vanish, which nothing
		// alerts on by default.
		ConfigError: func(cc *cli.Context, tag string, out io.Writer) {
			if cc.Bool("metrics") && tag != "" {
				_ = metrics.Write(out, metrics.ConfigError(tag))
			}
		},
		Run: func(ctx context.Context, cc *cli.Context, c *config.Config, o resource.Options, out io.Writer) error {
			if cc.Bool("diagnose") {
				env := doctor.DefaultEnv()
				env.ARPProbe = cc.Bool("arp-probe")
				rep := doctor.Run(ctx, c, env)
				if cc.Bool("json") {
					_, _ = out.Write(rep.JSON())
				} else {
					fmt.Fprint(out, rep.Human())
				}
				if rep.Failed() {
					return &resource.Error{Code: ocf.ErrGeneric, Err: fmt.Errorf("diagnose: %d of %d checks failed", rep.Count(doctor.Fail), len(rep.Checks))}
				}
				return nil
			}
			o.Level = cc.Int("level")
			st, err := resource.QuickCheck(c, o)
			if st.Warning != "" {
				o.Log.Warn(st.Warning)
			}
			if cc.Bool("json") || cc.Bool("verbose") {
				st.Cloud = doctor.DescribeCloud(c)
			}
			switch {
			case cc.Bool("metrics"):
				if err := metrics.Write(out, metrics.FromStatus(st, time.Now())); err != nil {
					return &resource.Error{Code: ocf.ErrGeneric, Err: err}
				}
			case cc.Bool("json"):
				b, _ := json.MarshalIndent(st, "", "  ")
				fmt.Fprintf(out, "%s\n", b)
			case cc.Bool("verbose"):
				fmt.Fprint(out, st.Human(time.Now()))
			}
			return err
		},
	}
)

// Main runs the action with args (os.Args) and returns the exit code.
func Main(a Action) int { return run(a, os.Args, os.Stdout, os.Stderr, os.LookupEnv) }

// App is the action's command line without its behaviour: name, texts and
// flags as --help shows them. The man pages are generated from it.
func App(a Action) *cli.App {
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Usage: "print the version", DisableDefaultText: true} // the default's -v is quickCheck's --verbose
	cli.FlagStringer = flagString
	return &cli.App{
		Name:  a.Name,
		Usage: a.Usage,
		// How the cluster managers call it: flags only; without this the
		// hidden serve command makes --help show "command [command options]".
		UsageText: a.Name + " -t TAG [-i ID] [-c FILE] [OPTIONS]",
		Description: a.Long + "\n\nParameters come from flags, OCF_RESKEY_<name>, the LifeKeeper info field, the YAML file, defaults (highest first). " +
			"Give each flag once (several addresses as one comma-separated list); durations as 500ms, 5s or 1m, or a bare number of seconds.",
		Version:         Version,
		HideHelpCommand: true,
		Flags:           append(commonFlags(), a.Flags...),
	}
}

func run(a Action, args []string, stdout, stderr io.Writer, env func(string) (string, bool)) int {
	code := 0
	app := App(a)
	app.Writer, app.ErrWriter = stdout, stderr
	app.ExitErrHandler = func(*cli.Context, error) {}
	app.OnUsageError = func(_ *cli.Context, err error, _ bool) error {
		code = ocf.ErrArgs
		return err
	}
	app.Action = func(cc *cli.Context) error {
		if err := checkArgs(args[1:], app.Flags); err != nil {
			code = ocf.ErrArgs
			return err
		}
		if cc.NArg() > 0 {
			code = ocf.ErrArgs
			return fmt.Errorf("unexpected argument %q%s", cc.Args().First(), switchHint(args, cc.Args().First(), app.Flags))
		}
		if a.Check != nil {
			if err := a.Check(cc); err != nil {
				code = ocf.ErrArgs
				return err
			}
		}
		code = runAction(a, cc, stdout, stderr, env)
		return nil
	}
	app.Commands = []*cli.Command{{
		Name:   "serve",
		Hidden: true,
		Usage:  "internal: the probe responder process (restore starts it)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "tag"},
			&cli.StringFlag{Name: "state-dir"},
		},
		Action: func(*cli.Context) error {
			if _, ok := env(daemon.SpecEnv); !ok {
				code = ocf.ErrArgs
				return errors.New("serve is internal: restore starts the responder")
			}
			code = daemon.Serve(daemon.ReadyFile())
			return nil
		},
	}}
	if err := app.Run(normalizeSwitches(args, app.Flags)); err != nil {
		if code == 0 {
			code = ocf.ErrArgs
		}
		msg := usageMessage(err)
		fmt.Fprintf(stderr, "%s: %s%s\n", a.Name, msg, didYouMean(a.Name, msg, app.Flags))
	}
	return code
}

// exclusive refuses first together with any of others: they choose
// different outputs.
func exclusive(cc *cli.Context, first string, others ...string) error {
	if !cc.Bool(first) {
		return nil
	}
	for _, o := range others {
		if cc.Bool(o) {
			return fmt.Errorf("--%s and --%s choose different outputs: use one of them", first, o)
		}
	}
	return nil
}

// commonFlags are the parameter table's flags plus -c and -i.
func commonFlags() []cli.Flag {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "YAML config file (default " + config.DefaultConfigPath("TAG") + ")"},
		&cli.StringFlag{Name: "id", Aliases: []string{"i"}, Usage: "LifeKeeper resource ID (accepted, not needed)"},
		&cli.BoolFlag{Name: "check-config", Usage: "only validate the configuration: exit 0, or print the error and exit 6 (5: -c file missing); changes nothing", DisableDefaultText: true},
	}
	for _, p := range config.Params {
		var aliases []string
		if p.FlagName() != p.Name {
			aliases = append(aliases, p.Name)
		}
		if p.Name == "tag" {
			aliases = append(aliases, "t")
		}
		usage := p.Short
		if d := p.DefaultDoc(); d != "" {
			usage += " (default " + d + ")"
		}
		if p.Kind == config.Boolean {
			// The usage names the default (the parameter table's), once.
			flags = append(flags, &cli.BoolFlag{Name: p.FlagName(), Aliases: aliases, Usage: usage, DisableDefaultText: true})
			continue
		}
		flags = append(flags, &cli.StringFlag{Name: p.FlagName(), Aliases: aliases, Usage: usage})
	}
	return flags
}

func runAction(a Action, cc *cli.Context, stdout, stderr io.Writer, env func(string) (string, bool)) int {
	flags := flagValues(cc)
	log := logrus.New()
	log.SetOutput(stderr)
	log.SetFormatter(&lineFormatter{action: a.Name})
	c, err := loadConfig(a, cc, flags, env, log)
	if err != nil {
		log.Error(err)
		reportConfigError(a, cc, flags, env, stdout)
		return resource.ExitCode(err)
	}
	if cc.Bool("check-config") {
		return ocf.Success // the OCF agent's validate-all: Load has checked everything
	}
	if lvl, err := logrus.ParseLevel(c.LogLevel); err == nil {
		log.SetLevel(lvl)
	}
	if a.Quiet && c.LogLevel == "info" {
		log.SetLevel(logrus.WarnLevel)
	}
	entry := log.WithField("tag", c.Tag)
	exe, err := os.Executable()
	if err != nil {
		entry.Errorf("find own executable: %v", err)
		return ocf.ErrInstalled
	}
	budget := config.Budget(c.ActionTimeout, env)
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	err = a.Run(ctx, cc, c, resource.Options{Exe: exe, Log: entry, Level: 10}, stdout)
	return reportOutcome(a, c, err, budget, entry, stderr)
}

// flagValues are the parameters given as flags, by parameter name.
func flagValues(cc *cli.Context) map[string]string {
	flags := map[string]string{}
	for _, p := range config.Params {
		if !cc.IsSet(p.FlagName()) {
			continue
		}
		if p.Kind == config.Boolean {
			flags[p.Name] = strconv.FormatBool(cc.Bool(p.FlagName()))
		} else {
			flags[p.Name] = cc.String(p.FlagName())
		}
	}
	return flags
}

// loadConfig loads the configuration from the flags, the environment,
// LifeKeeper's info field and the file. Remove falls back to what the
// state directory records (configForStop).
func loadConfig(a Action, cc *cli.Context, flags map[string]string, env func(string) (string, bool), log logrus.FieldLogger) (*config.Config, error) {
	stopping := a.Name == "remove" && !cc.Bool("check-config")
	info, ierr := lifeKeeperInfo(flags, env)
	if ierr != nil && !stopping {
		return nil, ierr
	}
	src := config.Sources{Flags: flags, Env: env, Info: info, ConfigFile: cc.String("config"), Euid: os.Geteuid()}
	c, err := config.Load(src)
	if ce := (*config.Error)(nil); stopping && (ierr != nil || err != nil && errors.As(err, &ce)) {
		// A stop must not depend on LifeKeeper answering or on a
		// configuration that is right: what the state directory records
		// is enough.
		if ierr != nil {
			err = ierr
		}
		c, err = configForStop(src, err, log)
	}
	return c, err
}

// reportOutcome returns the action's exit code and reports a failure on
// stderr, one line.
func reportOutcome(a Action, c *config.Config, err error, budget time.Duration, entry logrus.FieldLogger, stderr io.Writer) int {
	code := resource.ExitCode(err)
	switch {
	case err == nil:
	case code == ocf.NotRunning:
		// One line even for the quiet quickCheck: exit 7 alone puzzles an admin.
		what := "no responder on port " + strconv.Itoa(int(c.Port))
		if c.HasVIP() {
			what += ", no vip"
		}
		if err != resource.ErrNotRunning { // recover's "not started on this node: run restore"
			what = err.Error()
		} else {
			what = "stopped: " + what
		}
		fmt.Fprintf(stderr, "%s %s: %s\n", a.Name, c.Tag, what)
	default:
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w: ran out of the action's %s budget", err, budget)
		}
		entry.Error(err)
	}
	return code
}

// reportConfigError lets the action report a configuration that could
// not be loaded on stdout, with the tag where it is valid.
func reportConfigError(a Action, cc *cli.Context, flags map[string]string, env func(string) (string, bool), out io.Writer) {
	if a.ConfigError == nil {
		return
	}
	tag := givenTag(flags, env)
	if config.ValidTag(tag) != nil {
		tag = ""
	}
	a.ConfigError(cc, tag, out)
}

// givenTag is the tag from the flags or, without -t, OCF_RESKEY_tag: where
// config.Load takes it from before anything else is read.
func givenTag(flags map[string]string, env func(string) (string, bool)) string {
	if tag := flags["tag"]; tag != "" {
		return tag
	}
	tag, _ := env("OCF_RESKEY_tag")
	return tag
}

// configForStop lets remove stop a resource whose configuration became
// wrong after it started: remove then works from what the state directory
// records (the responder's pid file, the run mark with the VIP and port),
// so the cluster manager's stop succeeds whenever it can. When nothing is
// recorded (nothing to stop), or the tag or state_dir is wrong (hiding the
// record), the configuration error stands: 6, and nothing changed. The OCF
// agent turns that 6 into a successful stop when no pid file exists.
func configForStop(src config.Sources, loadErr error, log logrus.FieldLogger) (*config.Config, error) {
	c, _, err := config.LoadForStop(src)
	if err != nil {
		return nil, err // the tag or state_dir: names it and the fix
	}
	if !resource.Recorded(c) {
		if other := resource.RunsElsewhere(c); other != "" {
			return nil, &resource.Error{Code: ocf.ErrGeneric, Err: fmt.Errorf("%v; and a responder of %s runs with %s: run remove with that state_dir", loadErr, c.Tag, other)}
		}
		return nil, loadErr // nothing of it runs here: the error is the news
	}
	log.WithField("tag", c.Tag).Warnf("%v: stopping what the state directory records", loadErr)
	c.Drain = 0 // a wrong config's drain is not to be waited for
	return c, nil
}

// lifeKeeperInfo reads the tag's info field when LifeKeeper is installed
// (LKROOT set, $LKROOT/bin/ins_list present). A tag that is not valid is
// left for config.Load to report; nothing is run with it.
func lifeKeeperInfo(flags map[string]string, env func(string) (string, bool)) (map[string]string, error) {
	insList, ok := lifekeeper.Enabled(env)
	if !ok {
		return nil, nil
	}
	tag := givenTag(flags, env)
	if config.ValidTag(tag) != nil {
		return nil, nil
	}
	host, _ := os.Hostname()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	field, err := lifekeeper.InfoField(ctx, insList, tag, host)
	if err != nil {
		return nil, err
	}
	params, err := lifekeeper.ParseInfo(field)
	if err != nil {
		return nil, &config.Error{Origin: "info field of " + tag, Msg: strings.TrimPrefix(err.Error(), lifekeeper.ErrInfo.Error()+": "), Code: ocf.ErrConfigured}
	}
	return params, nil
}

// lineFormatter writes one line per entry: "restore t1: message", with
// the level for warnings and errors; fields other than tag follow, sorted
// by name, the error last.
type lineFormatter struct{ action string }

func (f *lineFormatter) Format(e *logrus.Entry) ([]byte, error) {
	var b strings.Builder
	b.WriteString(f.action)
	if t, ok := e.Data["tag"]; ok {
		fmt.Fprintf(&b, " %v", t)
	}
	b.WriteString(": ")
	if e.Level <= logrus.WarnLevel {
		b.WriteString(strings.ToUpper(e.Level.String()) + ": ")
	}
	b.WriteString(e.Message)
	keys := make([]string, 0, len(e.Data))
	for k := range e.Data {
		if k != "tag" {
			keys = append(keys, k)
		}
	}
	// A fixed order, so lines compare and grep alike every time: sorted,
	// with the error last, as it is free text that may hold spaces and "="
	// (the other fields are single words: pids, names, addresses).
	slices.SortFunc(keys, func(a, b string) int {
		if (a == logrus.ErrorKey) != (b == logrus.ErrorKey) {
			if a == logrus.ErrorKey {
				return 1
			}
			return -1
		}
		return strings.Compare(a, b)
	})
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%v", k, e.Data[k])
	}
	b.WriteString("\n")
	return []byte(b.String()), nil
}
