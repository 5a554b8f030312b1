// Command vigil is Vigil's one binary: the endpoint agent, the central server, the local scanner
// and the policy tools, as subcommands. `vigil --help` lists them.
package main
