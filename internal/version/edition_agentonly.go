//go:build agentonly

package version

// Edition names what the binary holds: "full" (agent, server and tools) or "agent-only" (built
// with -tags agentonly).
const Edition = "agent-only"
