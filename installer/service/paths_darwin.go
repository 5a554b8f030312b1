package service

// Paths of an installation on macOS.
var (
	AgentPaths = Paths{
		Binary:  "/usr/local/bin/vigil",
		Config:  "/Library/Application Support/Vigil/agent.yml",
		Data:    "/Library/Application Support/Vigil/state",
		LogFile: "/Library/Logs/Vigil/agent.log",
	}
	ServerPaths = Paths{
		Binary:  "/usr/local/bin/vigil",
		Config:  "/Library/Application Support/Vigil/server.yml",
		Data:    "/Library/Application Support/Vigil/server-data",
		LogFile: "/Library/Logs/Vigil/server.log",
	}
	// PackageBinary is where the macOS package puts the binary.
	PackageBinary = "/usr/local/bin/vigil"
)
