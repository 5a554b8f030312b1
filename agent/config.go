package agent

import (
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/pflag"

	"github.com/vigilhq/vigil/agent/pipeline"
	"github.com/vigilhq/vigil/agent/transport"
)

// Config is everything the agent needs. Flags binds it to command-line flags (and, through
// internal/cliconfig, to the configuration file and VIGIL_* variables).
type Config struct {
	// ServerURL is the server's base URL; EnrollSecret the fleet's enrollment secret (needed
	// until the agent has enrolled once).
	ServerURL    string
	EnrollSecret string
	// CAPin ("sha256:<hex>") or CAFile pins the server's CA.
	CAPin  string
	CAFile string
	// StateDir holds the enrollment, queue and policy (default DefaultStateDir()).
	StateDir string
	// MachineID overrides the OS's machine identifier (machines cloned from one image that
	// share /etc/machine-id; several agents on one test machine).
	MachineID string
	// Rules are local rule files and folders added to the built-in pack and the server's bundle;
	// Placeholders a YAML file of |expand values.
	Rules        []string
	Placeholders string
	// QueueMaxMB caps the queue (MiB, default 256).
	QueueMaxMB int
	// CPUBudget is the agent's CPU budget in percent of one core over a minute (default 2);
	// RSSBudgetMB its resident-memory budget (default 150).
	CPUBudget   float64
	RSSBudgetMB int
	// Only runs only these collectors (collector/suite names); FileRoots are the folders the
	// file collector watches (default: homes and temp folders).
	Only      []string
	FileRoots []string
	// LogLevel is the hclog level name (default info).
	LogLevel string
	// ReleaseRoot is the release repository's root metadata file (root.json): upgrades the
	// server offers are installed only when its key has signed them; none without it.
	ReleaseRoot string

	// UpgradeTrial marks this run as the trial of a freshly staged upgrade: it commits the
	// upgrade once it has heard from the server, or rolls it back and exits with
	// installer/service.ExitRestart when it has not within TrialTimeout (default 5 min).
	UpgradeTrial bool
	TrialTimeout time.Duration

	// Logger overrides the logger built from LogLevel (an embedding program's).
	Logger hclog.Logger
	// Sources overrides the collectors (tests, `vigil demo`); nil builds collector/suite from
	// Only and FileRoots.
	Sources pipeline.Sources
	// Hostname overrides os.Hostname (tests).
	Hostname string
	// DisableLimits turns the self-limits off, for a process that also does other work (the
	// watchdog measures the whole process): `vigil demo`.
	DisableLimits bool
	// Ready, when set, is called once the agent is running (collectors started, state open).
	Ready func()
	// tick overrides the pipeline's clock tick (tests).
	tick time.Duration
}

// Defaults of Config.
const (
	DefaultQueueMaxMB  = 256
	DefaultCPUBudget   = 2.0
	DefaultRSSBudgetMB = 150
)

// Flags registers the agent's flags on fs, bound to c, with their defaults. Their names are
// the configuration file's keys with '-' for '_' (docs/agent.md lists them).
func (c *Config) Flags(fs *pflag.FlagSet) {
	fs.StringVar(&c.ServerURL, "server", "", "the server's URL (https://host:port; http only to a loopback server)")
	fs.StringVar(&c.EnrollSecret, "enroll-secret", "", "the fleet's enrollment secret (better in the config file or VIGIL_ENROLL_SECRET than on the command line)")
	fs.StringVar(&c.CAPin, "ca-pin", "", "the server CA's fingerprint, sha256:HEX, as 'vigil server' prints it")
	fs.StringVar(&c.CAFile, "ca-file", "", "PEM file of the server's CA (instead of --ca-pin)")
	fs.StringVar(&c.StateDir, "state", DefaultStateDir(), "folder for the enrollment, queue and policy")
	fs.StringVar(&c.MachineID, "machine-id", "", "this machine's identifier at the server (default: the OS's: /etc/machine-id, IOPlatformUUID, MachineGuid); set it where cloned images share one")
	fs.StringArrayVar(&c.Rules, "rules", nil, "local rule file or folder, added to the built-in pack and the server's rules (repeatable)")
	fs.StringVar(&c.Placeholders, "placeholders", "", "YAML file of values for |expand placeholders")
	fs.IntVar(&c.QueueMaxMB, "queue-max-mb", DefaultQueueMaxMB, "cap of the on-disk queue in MiB; the oldest items are dropped (and counted) beyond it")
	fs.Float64Var(&c.CPUBudget, "cpu-budget", DefaultCPUBudget, "CPU budget in percent of one core over a minute; above it the agent backs off")
	fs.IntVar(&c.RSSBudgetMB, "rss-budget-mb", DefaultRSSBudgetMB, "resident memory budget in MiB; above it the agent backs off")
	fs.StringSliceVar(&c.Only, "only", nil, "run only these collectors (host, process, imageload, netconn, usb, display, media, files)")
	fs.StringArrayVar(&c.FileRoots, "files-root", nil, "folder the file collector watches (repeatable; default: homes and temp folders)")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level (trace, debug, info, warn, error)")
	fs.StringVar(&c.ReleaseRoot, "release-root", "", "root metadata (root.json) of the release repository: upgrades the server offers are installed only when signed by its key")
}

// Validate checks the configuration and fills defaults.
func (c *Config) Validate() error {
	if c.ServerURL == "" {
		return errors.New("no server: give --server (or server: in the config file)")
	}
	if _, err := transport.New(transport.Config{ServerURL: c.ServerURL, CAPin: c.CAPin, CAFile: c.CAFile}); err != nil {
		return err
	}
	if c.StateDir == "" {
		c.StateDir = DefaultStateDir()
	}
	if c.MachineID != "" {
		id, err := cleanID(c.MachineID)
		if err != nil || len(id) > 128 {
			return fmt.Errorf("machine-id %q: want 1 to 128 characters, not all zeros", c.MachineID)
		}
		c.MachineID = id
	}
	if c.QueueMaxMB == 0 {
		c.QueueMaxMB = DefaultQueueMaxMB
	}
	if c.QueueMaxMB < 1 {
		return fmt.Errorf("queue-max-mb %d: want at least 1", c.QueueMaxMB)
	}
	if c.CPUBudget == 0 {
		c.CPUBudget = DefaultCPUBudget
	}
	if c.CPUBudget < 0 || c.CPUBudget > 100 {
		return fmt.Errorf("cpu-budget %g: want a percentage of one core above 0 and at most 100", c.CPUBudget)
	}
	if c.RSSBudgetMB == 0 {
		c.RSSBudgetMB = DefaultRSSBudgetMB
	}
	if c.RSSBudgetMB < 20 {
		return fmt.Errorf("rss-budget-mb %d: want at least 20", c.RSSBudgetMB)
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	if hclog.LevelFromString(c.LogLevel) == hclog.NoLevel {
		return fmt.Errorf("log-level %q: want trace, debug, info, warn or error", c.LogLevel)
	}
	return nil
}
