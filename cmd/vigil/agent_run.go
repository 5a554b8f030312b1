package main

import (
	"context"
	"errors"
	"os"
	"runtime/debug"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/vigilhq/vigil/agent"
	"github.com/vigilhq/vigil/installer/service"
	"github.com/vigilhq/vigil/installer/upgrade"
	"github.com/vigilhq/vigil/internal/cliconfig"
	"github.com/vigilhq/vigil/internal/version"
)

// runAgentOrUpgrade hands over to a verified upgrade staged in the state folder (on trial the
// first time, then for good once it has committed itself), or runs the agent.
func runAgentOrUpgrade(ctx context.Context, cfg agent.Config) error {
	act, err := upgrade.Decide(cfg.StateDir, version.Version)
	if err != nil {
		cfg.Logger.Error("upgrade record unreadable; running this binary", "error", err)
	}
	if act.Exec != "" {
		cfg.Logger.Info("handing over to the upgraded binary", "binary", act.Exec, "from", version.Version)
		return upgrade.Exec(ctx, act.Exec, os.Args)
	}
	cfg.UpgradeTrial = act.Trial
	return agent.Run(ctx, cfg)
}

// agentGCPercent is the agent process's GOGC (Go's default is 100). Idle, the agent's live heap
// is about 3 MiB and it allocates about 20 KiB a second: at 25 the heap it holds beyond the live
// data (garbage waiting for the next collection) is half what it was at 50, about 1 MB less
// resident, for a collection every 40 s or so (docs/performance.md).
const agentGCPercent = 25

func init() { agentSubcommands = append(agentSubcommands, newAgentRunCmd) }

func newAgentRunCmd() *cobra.Command {
	var cfg agent.Config
	var configFile string
	cmd := &cobra.Command{
		Use:   "run --server URL [--enroll-secret S] [--ca-pin sha256:HEX | --ca-file F] [--state DIR] [--config FILE] [--rules PATH...]",
		Short: "Run the endpoint agent in the foreground",
		Long: `Runs the agent until interrupted: the collectors watch this machine, the built-in rule pack, the
server's signed rules and any --rules are evaluated here, and findings with their evidence,
inventory snapshots and changes are queued on disk (under --state) and sent to the server at
once. The first run enrolls with --enroll-secret; the token is kept in the state folder (0600)
and reused. A server that cannot be reached is retried with backoff while the queue keeps
everything (up to --queue-max-mb, then the oldest are dropped and counted).

Every flag can also be set in the YAML file given by --config (key = flag name with '_' for '-',
e.g. enroll_secret: ...; an unknown key is an error) and as a VIGIL_* variable
(VIGIL_ENROLL_SECRET); the command line wins over the environment, which wins over the file.
docs/agent.md lists the keys.

TLS: pin the server's CA with --ca-pin (the fingerprint 'vigil server' prints) or --ca-file;
plain http is accepted only to a server on a loopback address.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cliconfig.Apply(cmd.Flags(), configFile, cliconfig.Options{}); err != nil {
				return err
			}
			out := cmd.ErrOrStderr()
			if w, ok := service.ServiceLog(cfg.StateDir); ok {
				defer w.Close()
				out = w
			}
			cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: "vigil-agent", Level: hclog.LevelFromString(cfg.LogLevel), Output: out})
			if os.Getenv("GOGC") == "" {
				// The agent's live heap is a few MiB and it allocates little when idle:
				// collecting at a quarter of Go's default growth keeps the resident set near
				// the live heap for a negligible CPU cost (measured in docs/performance.md).
				// GOGC in the environment wins.
				debug.SetGCPercent(agentGCPercent)
			}
			// Under a service manager that expects to be spoken to (Windows, systemd) this
			// speaks its protocol; from a terminal or the SysV supervisor it just runs until
			// SIGINT or SIGTERM.
			err := service.Run(agentService.defaultName, func(ctx context.Context) error {
				return runAgentOrUpgrade(ctx, cfg)
			})
			var re *agent.RestartError
			if errors.As(err, &re) {
				cfg.Logger.Info("exiting for the service manager to restart the agent", "reason", re.Reason, "exit_status", re.ExitCode())
				return exitError{re.ExitCode()}
			}
			if code := service.ExitCode(err); code != 0 && code != 1 {
				return exitError{code} // an upgraded binary's own status (Windows)
			}
			return err
		},
	}
	cfg.Flags(cmd.Flags())
	cmd.Long += `

Upgrades: with --release-root (the release repository's root.json, given at install time) the
agent installs a version the server offers only when the release key has signed it; it then
exits with status 75 for the service manager to restart it on the new version, which has 5
minutes to reach the server or is rolled back (docs/install.md).`
	cmd.Flags().StringVar(&configFile, "config", "", "YAML configuration file (keys: the flag names with '_' for '-')")
	return cmd
}
