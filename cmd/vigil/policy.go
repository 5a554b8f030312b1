package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/internal/winevent"
	"github.com/vigilhq/vigil/policies"
	"github.com/vigilhq/vigil/policies/policytest"
	"github.com/vigilhq/vigil/policies/ruledoc"
)

func init() { subcommands = append(subcommands, newPolicyCmd) }

func newPolicyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Check, test and run Sigma detection rules",
		Long: `Tools for detection engineers: check Sigma rule files, run rule test cases, and evaluate rules
over events. docs/policies.md documents the engine's semantics and the test-case format.`,
	}
	cmd.AddCommand(newPolicyLintCmd(), newPolicyEvalCmd(), newPolicyTestCmd(), newPolicyDocsCmd())
	for _, add := range policySubcommands {
		cmd.AddCommand(add())
	}
	return cmd
}

// policySubcommands holds further `vigil policy` commands, each registered by its own file.
var policySubcommands []func() *cobra.Command

func newPolicyLintCmd() *cobra.Command {
	var ph placeholderFlag
	var strict bool
	cmd := &cobra.Command{
		Use:   "lint PATH...",
		Short: "Check rule files and folders; print every problem as file:line: message",
		Long: `Parses every Sigma rule file (*.yml, *.yaml) under the given files and folders, and every test-case
file (*.test.yml), and prints each problem as file:line: message. Exit status 1 when there is an
error (or, with --strict, a warning too), 0 otherwise.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec := ph.spec(args, false)
			spec.AllowEmpty = true
			rs, problems, err := policies.Load(spec)
			if err != nil {
				return err
			}
			testFiles, err := findTestFiles(args)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			errs, warns := printProblems(out, problems)
			for _, tf := range testFiles {
				if _, err := policytest.LoadFile(tf); err != nil {
					fmt.Fprintln(out, err)
					errs++
				}
			}
			rules, corrs := 0, 0
			for _, ri := range rs.Rules() {
				if ri.Kind == "correlation" {
					corrs++
				} else {
					rules++
				}
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%d rules and %d correlations loaded, %d test files; %d errors, %d warnings\n",
				rules, corrs, len(testFiles), errs, warns)
			if errs > 0 || (strict && warns > 0) {
				return exitError{1}
			}
			return nil
		},
	}
	ph.register(cmd)
	cmd.Flags().BoolVar(&strict, "strict", false, "treat warnings as errors")
	return cmd
}

func newPolicyEvalCmd() *cobra.Command {
	var (
		rules      []string
		builtin    bool
		events     string
		format     string
		ph         placeholderFlag
		allowEmpty bool
	)
	cmd := &cobra.Command{
		Use:   "eval --rules PATH... [--builtin] [--events FILE|-]",
		Short: "Evaluate rules over events; one JSON finding per output line",
		Long: `Reads events (JSON lines in the event schema of docs/events.md; id, host and time optional) and
writes one JSON line per finding with rule_id, rule_name, title, level, author, tags, time, host,
event_ids, and for correlations group, count (and value). Events without an id get one; events
without a time take the time they arrive. Windows event-log records exported as JSON are read with
--format evtx-json. Rule paths may also be given as arguments. This is the engine's scripting
interface: its output format is stable.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			rules = append(rules, args...)
			if len(rules) == 0 && !builtin {
				return fmt.Errorf("no rules: give --rules PATH or --builtin")
			}
			spec := ph.spec(rules, builtin)
			spec.AllowEmpty = allowEmpty
			rs, err := loadRules(cmd.ErrOrStderr(), spec)
			if errors.Is(err, policies.ErrNoRules) {
				return fmt.Errorf("%w (--allow-empty runs without rules)", err)
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
			bw := bufio.NewWriter(cmd.OutOrStdout())
			defer bw.Flush()
			enc := json.NewEncoder(bw)
			enc.SetEscapeHTML(false)
			var werr error
			emit := func(f *policies.Finding) {
				if werr == nil {
					werr = enc.Encode(f)
				}
			}
			process := func(ev *event.Event) error {
				if ev.ID == "" {
					ev.ID = event.NewID()
				}
				if ev.Time.IsZero() {
					ev.Time = time.Now().UTC()
				}
				eng.Process(ev, emit)
				return werr
			}
			switch format {
			case "jsonl":
				err = event.DecodeLines(name, in, 0, func(_ int, ev *event.Event) error { return process(ev) })
			case "evtx-json":
				err = winevent.Decode(name, in, process)
			default:
				return fmt.Errorf("--format %q: want jsonl or evtx-json", format)
			}
			if err != nil {
				return err
			}
			eng.Flush(emit)
			if werr != nil {
				return werr
			}
			return bw.Flush()
		},
	}
	cmd.Flags().StringArrayVar(&rules, "rules", nil, "rule file or folder (repeatable)")
	cmd.Flags().BoolVar(&builtin, "builtin", false, "add the built-in rule pack")
	cmd.Flags().StringVar(&events, "events", "-", "events file, or - for standard input")
	cmd.Flags().BoolVar(&allowEmpty, "allow-empty", false, "run even when the rule paths hold no rule (otherwise an error)")
	cmd.Flags().StringVar(&format, "format", "jsonl", "input format: jsonl (Vigil events) or evtx-json (Windows event-log records exported as JSON)")
	ph.register(cmd)
	return cmd
}

// findTestFiles lists the test-case files under the given paths.
func findTestFiles(paths []string) ([]string, error) {
	var out []string
	for _, root := range paths {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && policytest.IsTestFile(d.Name()) {
				out = append(out, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("find test files: %w", err)
		}
	}
	return out, nil
}

func newPolicyTestCmd() *cobra.Command {
	var (
		builtin, strict, verbose bool
		ph                       placeholderFlag
	)
	cmd := &cobra.Command{
		Use:   "test PATH...",
		Short: "Run rule test cases (*.test.yml): events in, expected findings out",
		Long: `Loads the rules under the given paths (and, with --builtin, the embedded pack), then runs every
test-case file (*.test.yml, *.test.yaml) found under the paths. Each case runs on a fresh engine.
Prints PASS or FAIL per case with the reasons, then a summary with the rules no case expects to
fire. Exit status 1 when a case fails, a rule does not load, or (with --strict) a rule has no
positive case. The format is documented in docs/policies.md.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			// A test folder may hold only cases whose files name their own rules.
			spec := ph.spec(args, builtin)
			spec.AllowEmpty = true
			rs, err := loadRules(out, spec)
			if err != nil {
				return err
			}
			files, err := findTestFiles(args)
			if err != nil {
				return err
			}
			if len(files) == 0 {
				return fmt.Errorf("no test files (*.test.yml) under %s", strings.Join(args, ", "))
			}
			var suites []*policytest.Suite
			pass, fail := 0, 0
			for _, file := range files {
				s, err := policytest.LoadFile(file)
				if err != nil {
					fmt.Fprintln(out, "FAIL", err)
					fail++
					continue
				}
				suites = append(suites, s)
				set := rs
				if len(s.Rules) > 0 {
					if set, err = loadRules(out, ph.spec(s.SuiteRules(), false)); err != nil {
						fmt.Fprintf(out, "FAIL %s: %v\n", file, err)
						fail++
						continue
					}
				}
				for _, r := range policytest.Run(s, set) {
					if r.Passed() {
						pass++
						if verbose {
							fmt.Fprintf(out, "PASS %s:%d %s\n", r.File, r.Line, r.Case)
						}
						continue
					}
					fail++
					fmt.Fprintf(out, "FAIL %s:%d %s\n", r.File, r.Line, r.Case)
					for _, f := range r.Failures {
						fmt.Fprintf(out, "    %s\n", f)
					}
				}
			}
			var uncovered []string
			covered := policytest.Covered(rs, suites)
			for _, ri := range rs.Rules() {
				if !covered[ri.ID] {
					uncovered = append(uncovered, fmt.Sprintf("%s (%s:%d)", ri.Title, ri.File, ri.Line))
				}
			}
			sort.Strings(uncovered)
			for _, u := range uncovered {
				fmt.Fprintln(out, "no positive case:", u)
			}
			fmt.Fprintf(out, "%d passed, %d failed; %d of %d rules have a positive case\n",
				pass, fail, len(rs.Rules())-len(uncovered), len(rs.Rules()))
			if fail > 0 || (strict && len(uncovered) > 0) {
				return exitError{1}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&builtin, "builtin", false, "add the built-in rule pack to the rules under test")
	cmd.Flags().BoolVar(&strict, "strict", false, "fail when a rule has no case that expects it to fire")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "print passing cases too")
	ph.register(cmd)
	return cmd
}

func newPolicyDocsCmd() *cobra.Command {
	var (
		builtin bool
		output  string
		ph      placeholderFlag
	)
	cmd := &cobra.Command{
		Use:   "docs [--builtin] [PATH...] [-o FILE]",
		Short: "Write Markdown reference documentation of rules (docs/rules.md is the built-in pack's)",
		Long: `Renders every rule and correlation (id, title, level, logsource, tags, what it catches, its
false positives), grouped by folder and sorted by level, as Markdown. docs/rules.md is
'vigil policy docs --builtin -o docs/rules.md'.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && !builtin {
				return fmt.Errorf("no rules: give PATH or --builtin")
			}
			// The pack alone keeps its files' paths relative to policies/rules.
			rs, err := loadRules(cmd.ErrOrStderr(), ph.spec(args, builtin))
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if output != "" && output != "-" {
				f, err := os.Create(output)
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
			}
			return ruledoc.Write(w, rs)
		},
	}
	cmd.Flags().BoolVar(&builtin, "builtin", false, "document the built-in rule pack")
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to this file instead of standard output")
	ph.register(cmd)
	return cmd
}
