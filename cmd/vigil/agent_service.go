package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vigilhq/vigil/agent"
	"github.com/vigilhq/vigil/installer/service"
)

func init() {
	agentSubcommands = append(agentSubcommands, agentService.installCmd, agentService.uninstallCmd,
		func() *cobra.Command { return agentService.controlCmd("start") },
		func() *cobra.Command { return agentService.controlCmd("stop") },
		agentService.statusCmd)
}

// agentService is `vigil agent` as a service: it runs `vigil agent run --config FILE`.
var agentService = &serviceKind{
	noun:        "agent",
	defaultName: "vigil",
	paths:       service.AgentPaths,
	dataFlag:    "state",
	runFlags:    func() *pflag.FlagSet { return subcommandFlags(agentSubcommands, "run") },
	required:    []string{"server"},
	spec:        service.AgentSpec,
	detail:      agentDetail,
	copiedFiles: map[string]string{"release_root": "release-root.json"},
	waitReady:   agentReady,
}

// agentDetail prints what the running agent last wrote in its state folder.
func agentDetail(w io.Writer, state string, running bool) {
	st, err := agent.ReadStatus(state)
	if err != nil {
		fmt.Fprintf(w, "agent: %v\n", err)
		return
	}
	if st.Enrolled {
		fmt.Fprintf(w, "enrolled: yes, agent id %s\n", st.AgentID)
	} else {
		fmt.Fprintf(w, "enrolled: no\n")
	}
	fmt.Fprintf(w, "version: %s\n", st.Version)
	if !st.LastContact.IsZero() {
		fmt.Fprintf(w, "last contact with the server: %s\n", st.LastContact.Format(time.RFC3339))
	}
	if st.LastError != "" {
		fmt.Fprintf(w, "last error: %s\n", st.LastError)
	}
	if st.Health.Upgrade != "" {
		fmt.Fprintf(w, "upgrade: %s\n", st.Health.Upgrade)
	}
	if !running {
		return
	}
	if err := st.Healthy(time.Now()); err != nil {
		fmt.Fprintf(w, "healthy: no (%v)\n", err)
	} else {
		fmt.Fprintf(w, "healthy: yes\n")
	}
}

// agentReady reports whether the agent whose state folder is state has started since then
// (what status shows is the new process's, not what an earlier one left), has enrolled and has
// heard from its server since it started.
func agentReady(state string, since time.Time) bool {
	st, err := agent.ReadStatus(state)
	return err == nil && !st.StartedAt.Before(since) && st.Enrolled && !st.LastContact.Before(st.StartedAt)
}

// resolvingFlags is set while subcommandFlags builds a registry's commands, so that the install
// commands built among them do not look up the run command's flags in turn.
var resolvingFlags bool

// subcommandFlags builds the subcommand called name from a registry and returns its flags, or
// nil when the registry has none of that name.
func subcommandFlags(registry []func() *cobra.Command, name string) *pflag.FlagSet {
	if resolvingFlags {
		return nil
	}
	resolvingFlags = true
	defer func() { resolvingFlags = false }()
	for _, mk := range registry {
		if c := mk(); c.Name() == name {
			return c.Flags()
		}
	}
	return nil
}
