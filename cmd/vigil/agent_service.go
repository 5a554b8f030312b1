package main

import (
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

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
