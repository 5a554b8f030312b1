//go:build !agentonly

package main

import (
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigilhq/vigil/internal/loadgen"
)

func init() { subcommands = append(subcommands, newLoadgenCmd) }

func newLoadgenCmd() *cobra.Command {
	var cfg loadgen.Config
	cmd := &cobra.Command{
		Use:   "loadgen",
		Short: "Simulate many agents against a Vigil server and measure it",
		Long: `Simulate agents against a Vigil server: each enrolls for real, checks in at the server's interval
and sends gzip batches of realistic events, now and then a finding, and a host inventory snapshot.
A batch that fails is retried with the same ids until acknowledged. Progress goes to stderr; the
run ends with one line on stdout:

  agents=N batches=N events=N errors=N p50_ms=X p99_ms=Y events_per_s=Z

agents: agents enrolled; batches, events: acknowledged by the server; errors: failed requests
(429 included); p50_ms, p99_ms: check-in latency once every agent has enrolled and --settle has passed
(or, when enrollments outlast the run, over the whole run, with a note on stderr); events_per_s: acknowledged events per second of
the run. Give --server several times (or comma-separated) to spread agents over replicas.
Exit status 1 when any request failed, 2 when the run could not start.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Thousands of simulated agents keep a large heap of connection buffers: collect it
			// less often, so the generator takes less of the CPU it shares with the server.
			debug.SetGCPercent(400)
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			cfg.Progress = cmd.ErrOrStderr()
			if f, ok := cfg.Progress.(*os.File); ok {
				if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
					cfg.Terminal = true
				}
			}
			res, err := loadgen.Run(ctx, cfg)
			if err != nil {
				return err
			}
			if !res.Steady {
				fmt.Fprintln(cmd.ErrOrStderr(), "note: enrollments were still running when the run ended: the latencies include the enrollment burst")
			}
			fmt.Fprintln(cmd.OutOrStdout(), res.Line())
			if res.Errors > 0 {
				fmt.Fprintln(cmd.ErrOrStderr(), "last error:", res.LastError)
				return exitError{code: 1}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&cfg.Servers, "server", nil, "server URL (repeat, or comma-separate, for replicas)")
	f.StringVar(&cfg.EnrollSecret, "enroll-secret", "", "the server's enroll secret")
	f.StringVar(&cfg.CAPin, "ca-pin", "", "pin of the server's CA: sha256:HEX, as the server prints it")
	f.IntVar(&cfg.Agents, "agents", 100, "simulated agents")
	f.DurationVar(&cfg.Duration, "duration", time.Minute, "how long to run")
	f.Float64Var(&cfg.EventsPerMin, "events-per-min", 60, "events each agent sends per minute")
	f.DurationVar(&cfg.BatchEvery, "batch-every", 5*time.Second, "how often each agent sends what it gathered")
	f.DurationVar(&cfg.CheckinEvery, "checkin-every", 0, "check-in interval (default: the server's)")
	f.IntVar(&cfg.Conns, "conns", 0, "connections per server shared by all agents (default: one per agent)")
	f.DurationVar(&cfg.Settle, "settle", 0, "after the last enrollment, wait this long before recording latencies")
	f.IntVar(&cfg.EnrollConcurrency, "enroll-concurrency", 32, "enrollments in parallel")
	f.StringVar(&cfg.MachinePrefix, "machine-prefix", "", "machine id prefix (default: random, so each run adds new hosts)")
	_ = cmd.MarkFlagRequired("server")
	_ = cmd.MarkFlagRequired("enroll-secret")
	return cmd
}
