package service

// Paths of an installation on Linux.
var (
	AgentPaths  = Paths{Binary: "/usr/local/bin/vigil", Config: "/etc/vigil/agent.yml", Data: "/var/lib/vigil", LogFile: "/var/log/vigil.log"}
	ServerPaths = Paths{Binary: "/usr/local/bin/vigil", Config: "/etc/vigil/server.yml", Data: "/var/lib/vigil-server", LogFile: "/var/log/vigil-server.log"}
	// PackageBinary is where the native packages put the binary.
	PackageBinary = "/usr/bin/vigil"
)
