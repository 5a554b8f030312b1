package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/internal/winevent"
	"github.com/vigilhq/vigil/policies"
)

func init() { policySubcommands = append(policySubcommands, newPolicyEvalCmd) }

func newPolicyEvalCmd() *cobra.Command {
	var (
		rules      []string
		builtin    bool
		events     string
		format     string
		ph         placeholderFlag
		allowEmpty bool
		strict     bool
	)
	cmd := &cobra.Command{
		Use:   "eval --rules PATH... [--builtin] [--events FILE|-]",
		Short: "Evaluate rules over events; one JSON finding per output line",
		Long: `Reads events (JSON lines in the event schema of docs/events.md; id, host and time optional) and
writes one JSON line per finding with rule_id, rule_name, title, level, author, tags, time, host,
event_ids, and for correlations group, count (and value). Events without an id get one; events
without a time take the time they arrive. Windows event-log records exported as JSON are read with
--format evtx-json. Rule paths may also be given as arguments. This is the engine's scripting
interface: its output format is stable.

An event line with a key outside the schema (a typo such as "categroy"), a key given twice or a
null line is a warning on standard error naming the file and line; --strict makes it an error.
Exit status 0 when every event was evaluated; 2 when a rule does not load, the rule paths hold no
rule (unless --allow-empty), or an event line is bad (the error names the file and line).
docs/policy-tools.md describes the command.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			rules = append(rules, args...)
			if len(rules) == 0 && !builtin {
				return fmt.Errorf("no rules: give --rules PATH or --builtin")
			}
			spec := ph.spec(rules, builtin)
			spec.AllowEmpty = allowEmpty
			rs, err := loadRules(cmd.ErrOrStderr(), spec)
			if errors.Is(err, policies.ErrNoRules) {
				return fmt.Errorf("%w, or --allow-empty to run without rules", err)
			}
			if err != nil {
				return err
			}
			eng, err := policies.NewEngine(rs, policies.EngineOptions{})
			if err != nil {
				return err
			}
			in, name := io.Reader(cmd.InOrStdin()), "stdin"
			if events != "" && events != "-" {
				f, err := os.Open(events)
				if err != nil {
					return fmt.Errorf("events: %w", err)
				}
				defer f.Close()
				in, name = f, events
			}
			ev := policies.NewEvaluator(eng, cmd.OutOrStdout())
			warn := func(msg string) { fmt.Fprintln(cmd.ErrOrStderr(), msg) }
			switch format {
			case "jsonl":
				err = event.DecodeLines(name, in, event.DecodeOptions{Strict: strict, Warn: warn}, func(_ int, e *event.Event) error { return ev.Process(e) })
			case "evtx-json":
				err = winevent.Decode(name, in, ev.Process)
			default:
				return fmt.Errorf("--format %q: want jsonl or evtx-json", format)
			}
			if err != nil {
				return err
			}
			return ev.Close()
		},
	}
	cmd.Flags().StringArrayVar(&rules, "rules", nil, "rule file or folder (repeatable)")
	cmd.Flags().BoolVar(&builtin, "builtin", false, "add the built-in rule pack")
	cmd.Flags().StringVar(&events, "events", "-", "events file, or - for standard input")
	cmd.Flags().BoolVar(&strict, "strict", false, "treat warnings about event lines (unknown or repeated keys, null lines) as errors")
	cmd.Flags().BoolVar(&allowEmpty, "allow-empty", false, "run even when the rule paths hold no rule (otherwise an error)")
	cmd.Flags().StringVar(&format, "format", "jsonl", "input format: jsonl (Vigil events) or evtx-json (Windows event-log records exported as JSON)")
	ph.register(cmd)
	return cmd
}
