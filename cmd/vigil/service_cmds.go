package main

import (
	"context"
	"debug/buildinfo"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vigilhq/vigil/installer/service"
	"github.com/vigilhq/vigil/internal/cliconfig"
	"github.com/vigilhq/vigil/internal/version"
)

// serviceKind is `vigil agent` or `vigil server` seen as a system service: the install,
// uninstall, start, stop and status commands are the same for both.
type serviceKind struct {
	noun        string        // "agent" or "server", for messages
	defaultName string        // the service's default name
	paths       service.Paths // default paths on this OS
	dataFlag    string        // the run command's flag (and config key) of the directory it writes
	// runFlags returns the flags of the command the service runs (`agent run`, `server`):
	// install accepts each of them and writes those given into the configuration file.
	runFlags func() *pflag.FlagSet
	// required are keys the configuration must hold before the service can start.
	required []string
	spec     func(name, binary, config, data, logFile string) service.Spec
	// detail prints what status adds after the service's state (the agent: its enrollment).
	detail func(w io.Writer, data string, running bool)
	// copiedFiles maps configuration keys that name a file to the name install copies it to,
	// beside the configuration file.
	copiedFiles map[string]string
	// waitReady, when set, is what install waits for (up to readyTimeout) after starting the
	// service at since: the agent started then, enrolled and heard from its server.
	waitReady func(data string, since time.Time) bool
}

// readyTimeout bounds install's wait for waitReady.
const readyTimeout = 60 * time.Second

// serviceTimeout bounds how long a command waits for the service manager.
const serviceTimeout = 90 * time.Second

// Exit statuses of `status` (as LSB init scripts use them).
const (
	exitServiceStopped      = 3
	exitServiceNotInstalled = 4
)

// common flags of every service command.
type serviceFlags struct {
	name   string
	config string
}

func (k *serviceKind) addCommon(fs *pflag.FlagSet, f *serviceFlags) {
	fs.StringVar(&f.name, "name", k.defaultName, "service name (unit, init script, launchd label, Windows service)")
	fs.StringVar(&f.config, "config", k.paths.Config, "configuration file the service reads")
}

// defaultBinary is where the service's executable goes: the running one when a package put it
// in place, else the usual place on this OS (the running binary is copied there).
func (k *serviceKind) defaultBinary() string {
	if exe, err := os.Executable(); err == nil {
		if r, err := filepath.EvalSymlinks(exe); err == nil && r == service.PackageBinary {
			return r
		}
	}
	return k.paths.Binary
}

func (k *serviceKind) installCmd() *cobra.Command {
	var (
		f                 serviceFlags
		binary, logFile   string
		noStart, unconfig bool
	)
	cmd := &cobra.Command{
		Use:   "install",
		Short: fmt.Sprintf("Install the %s as a system service, write its configuration and start it", k.noun),
		Long: fmt.Sprintf(`Installs the %[1]s as a system service (systemd, launchd, a Windows service, or a SysV or
OpenRC init script where systemd is not running), writes its configuration file and starts it.

Every flag of the command the service runs is accepted here (and as a VIGIL_* variable) and
written into the configuration file (root's, mode 0600; on Windows readable by SYSTEM and
Administrators alone); keys already in the file are kept. This binary is copied to --binary
unless it is already there. Installing again rewrites the service definition and restarts it,
keeping the configuration and the %[2]s directory: that is also how a new binary is put in
place by hand.

--allow-unconfigured (used by the native packages) registers the service without starting it
when the configuration lacks what it needs to run, instead of failing.`, k.noun, k.dataFlag),
		Args: cobra.NoArgs,
	}
	fs := cmd.Flags()
	k.addCommon(fs, &f)
	fs.StringVar(&binary, "binary", k.defaultBinary(), "where the service's executable is installed")
	fs.StringVar(&logFile, "log-file", k.paths.LogFile, "the service's output where the service manager keeps no journal (SysV, OpenRC, launchd)")
	fs.BoolVar(&noStart, "no-start", false, "install without starting")
	fs.BoolVar(&unconfig, "allow-unconfigured", false, "when required settings are missing, install without starting instead of failing")
	own := map[string]bool{"name": true, "config": true, "binary": true, "log-file": true, "no-start": true, "allow-unconfigured": true}
	var run *pflag.FlagSet
	if k.runFlags != nil {
		run = k.runFlags()
	}
	if run != nil {
		run.VisitAll(func(fl *pflag.Flag) {
			if !own[fl.Name] && fl.Name != "help" {
				fs.AddFlag(fl)
			}
		})
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		var skip []string
		for n := range own {
			skip = append(skip, n)
		}
		if err := cliconfig.Apply(fs, "", cliconfig.Options{Skip: skip}); err != nil {
			return err
		}
		config, err := filepath.Abs(f.config)
		if err != nil {
			return err
		}
		existing, err := service.ReadConfig(config)
		if err != nil {
			return err
		}
		var settings []service.Setting
		files := map[string][]byte{}
		if run != nil {
			run.VisitAll(func(fl *pflag.Flag) {
				if own[fl.Name] || !fl.Changed {
					return
				}
				s := service.Setting{Key: cliconfig.Key(fl.Name), Value: fl.Value.String()}
				if sv, ok := fl.Value.(pflag.SliceValue); ok {
					s.List = append([]string{}, sv.GetSlice()...)
				}
				settings = append(settings, s)
			})
		}
		// Files a setting names are copied beside the configuration, so that the service does
		// not depend on where the admin kept them (the agent's release root).
		for i, s := range settings {
			name, ok := k.copiedFiles[s.Key]
			if !ok || s.Value == "" {
				continue
			}
			data, err := os.ReadFile(s.Value)
			if err != nil {
				return fmt.Errorf("%s install: --%s: %w", k.noun, strings.ReplaceAll(s.Key, "_", "-"), err)
			}
			dst := filepath.Join(filepath.Dir(config), name)
			files[dst] = data
			settings[i].Value = dst
		}
		data := existing[cliconfig.Key(k.dataFlag)]
		if fl := fs.Lookup(k.dataFlag); fl != nil && fl.Changed {
			data = fl.Value.String()
		}
		if data == "" {
			data = k.paths.Data
			settings = append(settings, service.Setting{Key: cliconfig.Key(k.dataFlag), Value: data})
		}
		if data, err = filepath.Abs(data); err != nil {
			return err
		}
		var missing []string
		for _, key := range k.required {
			if existing[key] == "" && !hasSetting(settings, key) {
				missing = append(missing, "--"+key)
			}
		}
		start := !noStart
		if len(missing) > 0 {
			if !unconfig {
				return fmt.Errorf("%s install: %v missing (give them here or in %s)", k.noun, missing, config)
			}
			start = false
		}
		src, err := os.Executable()
		if err != nil {
			return fmt.Errorf("%s install: this executable: %w", k.noun, err)
		}
		spec := k.spec(f.name, binary, config, data, logFile)
		out := cmd.OutOrStdout()
		// An agent-only build does not replace the full one a server installed here runs: that
		// holds the agent too, and the server would be gone.
		if version.Edition != "full" && fullBuild(binary) {
			if others, err := service.SharingBinary(config, f.name, binary); err != nil {
				return err
			} else if len(others) > 0 {
				fmt.Fprintf(out, "kept %s: the full build, which %s runs too and which holds the agent\n", binary, strings.Join(others, ", "))
				src = ""
			}
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), serviceTimeout)
		defer cancel()
		since := time.Now()
		m, err := service.Install(ctx, service.Plan{
			Spec: spec, Source: src, Config: config, Settings: settings, Files: files, Start: start,
			Comment: fmt.Sprintf("Vigil %s configuration, written by `vigil %s install`. Keys are the flags of the command the service runs, '-' written '_'.", k.noun, k.noun),
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "installed service %s (%s): %s\nconfig: %s\n%s: %s\n", spec.Name, m.Platform(), spec.Binary, config, k.dataFlag, data)
		switch {
		case start:
			fmt.Fprintf(out, "started\n")
			if k.waitReady != nil {
				deadline := time.Now().Add(readyTimeout)
				for !k.waitReady(data, since) && time.Now().Before(deadline) && cmd.Context().Err() == nil {
					time.Sleep(500 * time.Millisecond)
				}
			}
			if k.detail != nil {
				k.detail(out, data, true)
			}
		case len(missing) > 0:
			fmt.Fprintf(out, "not started: %v missing; set them in %s, then run `vigil %s start`\n", missing, config, k.noun)
		default:
			fmt.Fprintf(out, "not started (--no-start)\n")
		}
		return nil
	}
	return cmd
}

// fullBuild reports whether the executable at path is a full build of vigil (not one built with
// -tags agentonly), reading its build information; false when it cannot be read.
func fullBuild(path string) bool {
	bi, err := buildinfo.ReadFile(path)
	if err != nil || bi.Path != "github.com/vigilhq/vigil/cmd/vigil" {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-tags" && slices.Contains(strings.Split(s.Value, ","), "agentonly") {
			return false
		}
	}
	return true
}

func hasSetting(ss []service.Setting, key string) bool {
	for _, s := range ss {
		if s.Key == key && (s.Value != "" || len(s.List) > 0) {
			return true
		}
	}
	return false
}

// installedSpec is the service as installed (from the installation's record), or as the
// defaults describe it.
func (k *serviceKind) installedSpec(f *serviceFlags) (service.Spec, string, error) {
	config, err := filepath.Abs(f.config)
	if err != nil {
		return service.Spec{}, "", err
	}
	p, ok, err := service.Installed(config, f.name)
	if err != nil {
		return service.Spec{}, "", err
	}
	if !ok {
		p = k.paths
		p.Binary = k.defaultBinary()
	}
	if cfg, err := service.ReadConfig(config); err == nil && cfg[cliconfig.Key(k.dataFlag)] != "" {
		p.Data = cfg[cliconfig.Key(k.dataFlag)]
	}
	return k.spec(f.name, p.Binary, config, p.Data, p.LogFile), config, nil
}

func (k *serviceKind) uninstallCmd() *cobra.Command {
	var (
		f     serviceFlags
		purge bool
	)
	cmd := &cobra.Command{
		Use:   "uninstall",
		Short: fmt.Sprintf("Stop the %s's service and remove it (--purge: its configuration and %s too)", k.noun, k.dataFlag),
		Long: fmt.Sprintf(`Stops the %[1]s's service and removes its definition and registration, and the executable
if install copied it. The configuration file and the %[2]s directory are kept, so that installing
again carries on where it stopped; --purge removes them too, with the log file, leaving nothing
behind. Uninstalling a service that is not installed is not an error.`, k.noun, k.dataFlag),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec, config, err := k.installedSpec(&f)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), serviceTimeout)
			defer cancel()
			if err := service.Uninstall(ctx, spec, config, purge); err != nil {
				return err
			}
			if purge {
				fmt.Fprintf(cmd.OutOrStdout(), "uninstalled service %s; removed %s, %s and %s\n", spec.Name, config, spec.Writable[0], spec.LogFile)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "uninstalled service %s; kept %s and %s\n", spec.Name, config, spec.Writable[0])
			}
			return nil
		},
	}
	k.addCommon(cmd.Flags(), &f)
	cmd.Flags().BoolVar(&purge, "purge", false, "also remove the configuration, the "+k.dataFlag+" directory and the log file")
	return cmd
}

func (k *serviceKind) controlCmd(verb string) *cobra.Command {
	var f serviceFlags
	cmd := &cobra.Command{
		Use:   verb,
		Short: fmt.Sprintf("%s the %s's service (through the system's service manager)", map[string]string{"start": "Start", "stop": "Stop"}[verb], k.noun),
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec, _, err := k.installedSpec(&f)
			if err != nil {
				return err
			}
			m, err := service.New(spec)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), serviceTimeout)
			defer cancel()
			if verb == "start" {
				err = m.Start(ctx)
			} else {
				err = m.Stop(ctx)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", spec.Name, map[string]string{"start": "running", "stop": "stopped"}[verb])
			return nil
		},
	}
	k.addCommon(cmd.Flags(), &f)
	return cmd
}

func (k *serviceKind) statusCmd() *cobra.Command {
	var f serviceFlags
	cmd := &cobra.Command{
		Use:   "status",
		Short: fmt.Sprintf("Show whether the %s's service is installed and running", k.noun),
		Long: fmt.Sprintf(`Shows the state of the %s's service as the system's service manager reports it, and the
paths of its installation%s. Exit status: 0 running, %d stopped, %d not installed.`, k.noun,
			map[bool]string{true: " and whether the agent has enrolled with its server", false: ""}[k.detail != nil],
			exitServiceStopped, exitServiceNotInstalled),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec, config, err := k.installedSpec(&f)
			if err != nil {
				return err
			}
			m, err := service.New(spec)
			if err != nil {
				return err
			}
			st, err := m.Status()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "service %s (%s): %s\n", spec.Name, m.Platform(), st)
			if st == service.NotInstalled {
				return exitError{exitServiceNotInstalled}
			}
			fmt.Fprintf(out, "binary: %s\nconfig: %s\n%s: %s\n", spec.Binary, config, k.dataFlag, spec.Writable[0])
			if k.detail != nil {
				k.detail(out, spec.Writable[0], st == service.Running)
			}
			if st == service.Stopped {
				return exitError{exitServiceStopped}
			}
			return nil
		},
	}
	k.addCommon(cmd.Flags(), &f)
	return cmd
}
