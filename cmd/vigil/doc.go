// Command vigil is Vigil's one binary: the endpoint agent, the central server, the local scanner
// and the policy tools, as subcommands. `vigil --help` lists them.
//
// Built with `-tags agentonly` it is the endpoint's binary alone: the agent, `scan`, the policy
// tools and `version`, without the server, its web UI and stores, `demo`, `loadgen` and the
// release-signing commands. It is about half the size and starts with a smaller resident set,
// which is what a laptop pays for (docs/performance.md).
package main
