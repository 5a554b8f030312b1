package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/vigilhq/vigil/agent/pipeline"
	"github.com/vigilhq/vigil/collector/suite"
	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/internal/wire"
	"github.com/vigilhq/vigil/policies"
)

func init() { subcommands = append(subcommands, newScanCmd) }

// The evidence a scan holds for its findings: more than the agent's, since a scan is a
// one-off command (agent/pipeline bounds it).
const (
	scanEvidenceEvents = 65536
	scanEvidenceBytes  = 64 << 20
)

type scanFlags struct {
	opts        suite.Options
	rules       []string
	noBuiltin   bool
	watch       time.Duration
	jsonOut     bool
	withEvents  bool
	failOn      string
	logLevel    string
	placeholder placeholderFlag
}

func newScanCmd() *cobra.Command {
	var f scanFlags
	cmd := &cobra.Command{
		Use:   "scan",
		Short: "Scan this machine once: inventory and findings, no server",
		Long: `Runs every collector once in snapshot mode (processes, the libraries they load, network
connections, USB devices, displays, removable media, host settings; file activity with --watch),
evaluates the built-in rule pack plus any --rules, and prints an inventory summary and the
findings by severity. Nothing leaves the machine. Each TCP listener of this machine is probed
once for a remote-desktop protocol (RFB, RDP, websockify); with --watch on Linux, outbound
connections are named from the DNS answers the machine receives.

--watch DURATION keeps watching for that long (file activity, new processes and devices).
--json prints one JSON object per line: findings as {"kind":"finding", ...} with the fields of
'vigil policy eval', with --events every event as {"kind":"event", ...}, and a source that
failed as {"kind":"error","source":...,"error":...}. A failed source makes the exit status 2, so a
scan that could not look never passes for a clean one; --fail-on LEVEL makes it 1 when a finding
of that level or higher was found.

The root flags read fixture trees or saved tool output instead of the live system, for tests and
forensics: --sysfs-root and --proc-root stand for /sys and /proc, --ioreg-file is saved macOS
'ioreg -p IOUSB -l -w0' output, --windows-devices-file saved 'pnputil /enum-devices /connected'
output, --display-registry-file a 'reg export' of HKLM\SYSTEM\CurrentControlSet\Enum\DISPLAY.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runScan(cmd, &f) },
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&f.opts.Only, "only", nil, "run only these sources: "+strings.Join(suite.Names, ", "))
	fl.StringArrayVar(&f.rules, "rules", nil, "extra rule file or folder (repeatable)")
	fl.BoolVar(&f.noBuiltin, "no-builtin", false, "leave out the built-in rule pack")
	fl.DurationVar(&f.watch, "watch", 0, "keep watching for this long after the snapshot (e.g. 10m)")
	fl.BoolVar(&f.jsonOut, "json", false, "print JSON lines instead of the report")
	fl.BoolVar(&f.withEvents, "events", false, "with --json, print every event too")
	fl.StringVar(&f.failOn, "fail-on", "", "exit with status 1 when a finding of this level or higher is found (informational, low, medium, high, critical)")
	fl.StringVar(&f.logLevel, "log-level", "warn", "log level on standard error (trace, debug, info, warn, error, off)")
	fl.StringVar(&f.opts.SysfsRoot, "sysfs-root", "", "directory standing for /sys")
	fl.StringVar(&f.opts.ProcRoot, "proc-root", "", "directory standing for /proc")
	fl.StringVar(&f.opts.EtcRoot, "etc-root", "", "directory standing for /etc")
	fl.StringVar(&f.opts.DevRoot, "dev-root", "", "directory standing for /dev")
	fl.StringVar(&f.opts.IoregFile, "ioreg-file", "", "saved macOS 'ioreg -p IOUSB -l -w0' output to read USB devices from")
	fl.StringVar(&f.opts.IoregDisplayFile, "ioreg-display-file", "", "saved macOS 'ioreg -lw0 -r -c IODisplayConnect' output to read EDIDs from")
	fl.StringVar(&f.opts.WindowsDevicesFile, "windows-devices-file", "", "saved Windows 'pnputil /enum-devices /connected' output to read USB devices from")
	fl.StringVar(&f.opts.DisplayRegistry, "display-registry-file", "", "Windows 'reg export' of HKLM\\SYSTEM\\CurrentControlSet\\Enum\\DISPLAY to read EDIDs from")
	fl.StringVar(&f.opts.HostRegistry, "host-registry-file", "", "Windows registry export to read host settings from")
	fl.StringArrayVar(&f.opts.FileRoots, "files-root", nil, "folder the file collector watches with --watch (repeatable; default: homes and temp folders)")
	f.placeholder.register(cmd)
	return cmd
}

func runScan(cmd *cobra.Command, f *scanFlags) error {
	if f.withEvents && !f.jsonOut {
		return fmt.Errorf("--events goes with --json")
	}
	if cmd.Flags().Changed("watch") && f.watch <= 0 {
		return fmt.Errorf("--watch %s: want a positive duration (e.g. 10m)", f.watch)
	}
	if f.failOn != "" && policies.LevelRank(f.failOn) == 0 {
		return fmt.Errorf("--fail-on %q: want informational, low, medium, high or critical", f.failOn)
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "vigil", Level: hclog.LevelFromString(f.logLevel), Output: cmd.ErrOrStderr()})
	if f.logLevel == "off" {
		log = hclog.NewNullLogger()
	}
	f.opts.Logger = log
	rs, err := loadRules(cmd.ErrOrStderr(), f.placeholder.spec(f.rules, !f.noBuiltin))
	if err != nil {
		return err
	}
	s, err := suite.New(f.opts)
	if err != nil {
		return err
	}
	hostname, _ := os.Hostname()

	out := bufio.NewWriter(cmd.OutOrStdout())
	defer out.Flush()
	rep := newScanReport()
	sink := &scanSink{rep: rep, write: func(kind string, v any) error {
		if !f.jsonOut || (kind == "event" && !f.withEvents) {
			return nil
		}
		if err := writeKind(out, kind, v); err != nil {
			return err
		}
		if f.watch > 0 {
			return out.Flush() // stream while watching
		}
		return nil
	}}
	p, err := pipeline.New(pipeline.Config{
		Sources: s, Rules: rs, Sink: sink, Host: hostname, Logger: log,
		EvidenceEvents: scanEvidenceEvents, EvidenceBytes: scanEvidenceBytes,
	})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	var srcErr error
	if f.watch > 0 {
		wctx, cancel := context.WithTimeout(ctx, f.watch)
		srcErr = p.Run(wctx)
		cancel()
		p.Flush() // the watch is over: judge the windows still open
	} else {
		srcErr = p.Snapshot(ctx)
	}
	failures := suite.Failures(srcErr)
	for _, fl := range failures {
		sink.emit("error", map[string]string{"source": fl.Source, "error": fl.Error()})
	}
	if !f.jsonOut {
		rep.render(out, hostname, time.Since(start), srcErr)
	}
	if sink.err != nil {
		return sink.err
	}
	if err := out.Flush(); err != nil {
		return err
	}
	if len(failures) > 0 {
		// A source that could not look must not pass for a clean machine.
		return fmt.Errorf("%d source(s) failed: %w", len(failures), srcErr)
	}
	if f.failOn != "" && rep.maxLevel() >= policies.LevelRank(f.failOn) {
		return exitError{1}
	}
	return nil
}

// scanSink takes the pipeline's output into the report and, with --json, onto the output.
type scanSink struct {
	rep   *scanReport
	write func(kind string, v any) error
	err   error // the first write error; later writes are skipped
}

func (s *scanSink) emit(kind string, v any) {
	if s.err == nil {
		s.err = s.write(kind, v)
	}
}

func (s *scanSink) Event(ev *event.Event) {
	s.rep.addEvent(ev)
	s.emit("event", ev)
}

func (s *scanSink) Finding(f *pipeline.Finding) {
	s.rep.addFinding(f)
	s.emit("finding", f.Finding)
}

func (s *scanSink) Inventory(*wire.Inventory) {}

func writeKind(w io.Writer, kind string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	// {"kind":"...", <the object's own keys>}
	if _, err := fmt.Fprintf(w, `{"kind":%q,`, kind); err != nil {
		return err
	}
	if _, err := w.Write(b[1:]); err != nil {
		return err
	}
	_, err = io.WriteString(w, "\n")
	return err
}
