package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/vigilhq/vigil/agent"
	"github.com/vigilhq/vigil/internal/cliconfig"
)

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
			cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: "vigil-agent", Level: hclog.LevelFromString(cfg.LogLevel), Output: cmd.ErrOrStderr()})
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return agent.Run(ctx, cfg)
		},
	}
	cfg.Flags(cmd.Flags())
	cmd.Flags().StringVar(&configFile, "config", "", "YAML configuration file (keys: the flag names with '_' for '-')")
	return cmd
}
