//go:build !agentonly

package main

import (
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vigilhq/vigil/installer/service"
)

func init() {
	serverSubcommands = append(serverSubcommands, serverService.installCmd, serverService.uninstallCmd,
		func() *cobra.Command { return serverService.controlCmd("start") },
		func() *cobra.Command { return serverService.controlCmd("stop") },
		serverService.statusCmd)
}

// serverService is `vigil server` as a service: it runs `vigil server --config FILE`.
var serverService = &serviceKind{
	noun:        "server",
	defaultName: "vigil-server",
	paths:       service.ServerPaths,
	dataFlag:    "data",
	runFlags:    func() *pflag.FlagSet { return subcommandFlags(subcommands, "server") },
	spec:        service.ServerSpec,
}
