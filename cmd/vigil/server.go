//go:build !agentonly

package main

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/vigilhq/vigil/internal/cliconfig"
	"github.com/vigilhq/vigil/server"
	"github.com/vigilhq/vigil/server/store"
)

func init() { subcommands = append(subcommands, newServerCmd) }

// serverSubcommands is filled by the files that define `vigil server ...` commands (install...),
// so each lives in its own file.
var serverSubcommands []func() *cobra.Command

func newServerCmd() *cobra.Command {
	var (
		cfg        server.Config
		configPath string
		logLevel   string
		retention  []string
	)
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the Vigil server: the agent API, the admin API, the store and the fleet rules",
		Long: `Run the Vigil server (the central collector agents report to).

The web UI is served on the same address: sign in as admin with the printed password, or with
single sign-on (--oidc-*); its redirect URL is the server's URL followed by /auth/oidc/callback.

First start creates the data directory (mode 0700) with a CA and server certificate, the policy-signing
key, an enroll secret and an admin account, and prints the URL, the CA fingerprint, the admin password
and the exact "vigil agent run ..." line to paste on a laptop. Secrets are files with mode 0600.

The store is SQLite in the data directory, or PostgreSQL with --db postgres://...; several servers
may share one PostgreSQL database (copy the data directory's tls/, policy-signing.key and
enroll-secret to each). Every flag can also be set in the --config YAML file (key: the flag name
with _ for -) or as a VIGIL_* variable (VIGIL_ENROLL_SECRET, VIGIL_ADMIN_TOKEN...).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cliconfig.Apply(cmd.Flags(), configPath, cliconfig.Options{}); err != nil {
				return err
			}
			cfg.Retention = map[string]int{}
			for _, r := range retention {
				table, days, ok := strings.Cut(r, "=")
				var n int
				if _, err := fmt.Sscanf(days, "%d", &n); !ok || err != nil || n < 0 {
					return fmt.Errorf("--retention %q: want TABLE=DAYS (tables: %s)", r, strings.Join(store.RetentionTables, ", "))
				}
				known := false
				for _, t := range store.RetentionTables {
					known = known || t == table
				}
				if !known {
					return fmt.Errorf("--retention %q: unknown table (tables: %s)", r, strings.Join(store.RetentionTables, ", "))
				}
				cfg.Retention[table] = n
			}
			level := hclog.LevelFromString(logLevel)
			if level == hclog.NoLevel {
				return fmt.Errorf("--log-level %q: want trace, debug, info, warn or error", logLevel)
			}
			cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: "vigil", Level: level, Output: cmd.ErrOrStderr()})
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			srv, err := server.New(ctx, cfg)
			if err != nil {
				return err
			}
			srv.PrintFirstStart(cmd.OutOrStdout())
			if srv.FirstStart() == nil {
				fmt.Fprintf(cmd.OutOrStdout(), "Vigil server on %s (CA %s)\n", srv.URL(), srv.CAFingerprint())
			}
			return srv.Run(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&configPath, "config", "", "YAML configuration file (keys: the flag names with _ for -)")
	f.StringVar(&cfg.Listen, "listen", server.DefaultListen, "address to listen on")
	f.StringVar(&cfg.DataDir, "data", "/var/lib/vigil-server", "data directory: SQLite database, TLS material, keys")
	f.StringVar(&cfg.DB, "db", "", "PostgreSQL URL (postgres://...); empty: SQLite in the data directory")
	f.StringVar(&cfg.TLSCert, "tls-cert", "", "TLS certificate (PEM) to serve instead of the generated one")
	f.StringVar(&cfg.TLSKey, "tls-key", "", "key of --tls-cert")
	f.StringVar(&cfg.UpdatesDir, "updates-dir", "", "release repository folder (made by 'vigil release') served to agents; the upgrade offer is kept in it (docs/install.md)")
	f.BoolVar(&cfg.InsecureHTTP, "insecure-http", false, "serve plain HTTP (only on a loopback address)")
	f.StringSliceVar(&cfg.Hostnames, "hostname", nil, "extra host names and addresses for the generated certificate")
	f.StringVar(&cfg.PublicURL, "public-url", "", "URL agents reach the server at (default: from --listen and the host name)")
	f.StringVar(&cfg.EnrollSecret, "enroll-secret", "", "enroll secret agents use (default: generated on first start)")
	f.StringVar(&cfg.AdminToken, "admin-token", "", "an admin API token to accept (for automation)")
	f.StringVar(&cfg.AdminPassword, "admin-password", "", "the admin account's password on first start (default: generated)")
	f.DurationVar(&cfg.CheckinInterval, "checkin-interval", time.Minute, "check-in interval told to agents; 3 missed make a host offline")
	f.StringSliceVar(&cfg.TrustedProxies, "trusted-proxy", nil, "addresses or CIDRs of reverse proxies whose X-Forwarded-For is believed")
	f.StringSliceVar(&cfg.OfficeCIDRs, "office-cidr", nil, "egress CIDRs of office networks (and VPN exits) the laptop-farm rules leave out")
	f.StringSliceVar(&cfg.OfficeGatewayMACs, "office-gateway-mac", nil, "default-gateway MACs of office networks the laptop-farm rules leave out")
	f.DurationVar(&cfg.FleetInterval, "fleet-interval", time.Minute, "how often the fleet rules run")
	f.StringSliceVar(&retention, "retention", nil, "TABLE=DAYS to keep (events 30, findings 365, audit 365, fleet_facts 30; 0 keeps forever)")
	f.Float64Var(&cfg.AgentRate, "agent-rate", 10, "requests per second each agent may make")
	f.IntVar(&cfg.AgentBurst, "agent-burst", 40, "burst of requests each agent may make")
	f.StringVar(&cfg.OIDC.Issuer, "oidc-issuer", "", "OpenID Connect issuer URL for single sign-on to the web UI")
	f.StringVar(&cfg.OIDC.ClientID, "oidc-client-id", "", "OIDC client id of this server")
	f.StringVar(&cfg.OIDC.ClientSecret, "oidc-client-secret", "", "OIDC client secret (prefer VIGIL_OIDC_CLIENT_SECRET or the config file)")
	f.StringVar(&cfg.OIDC.Name, "oidc-name", "", `name on the login page's button ("Sign in with NAME")`)
	f.StringSliceVar(&cfg.OIDC.AdminGroups, "oidc-admin-group", nil, "provider groups whose members are admins")
	f.StringSliceVar(&cfg.OIDC.AnalystGroups, "oidc-analyst-group", nil, "provider groups whose members are analysts (others are viewers)")
	f.StringVar(&logLevel, "log-level", "info", "log level: trace, debug, info, warn, error")
	for _, add := range serverSubcommands {
		cmd.AddCommand(add())
	}
	return cmd
}
