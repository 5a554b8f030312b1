package main

import "github.com/spf13/cobra"

func init() { subcommands = append(subcommands, newAgentCmd) }

// agentSubcommands is filled by the files that define `vigil agent ...` commands (run, install,
// uninstall, start, stop, status), so each group lives in its own file.
var agentSubcommands []func() *cobra.Command

func newAgentCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run the endpoint agent, or install and manage it as a service",
		Args:  cobra.NoArgs,
	}
	for _, add := range agentSubcommands {
		cmd.AddCommand(add())
	}
	return cmd
}
