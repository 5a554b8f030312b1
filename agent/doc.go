// Package agent is the endpoint agent's runtime: Run wires the collectors (collector/suite)
// through the pipeline (agent/pipeline: the policy engine, evidence, inventory) into the
// durable queue (agent/queue), and the queue to the server (agent/transport): enrollment,
// batches sent as soon as there is something to send, check-ins at the interval the server
// sets, signed policy bundles applied without a restart, and self-limits on the agent's own CPU
// and memory. It holds no detection logic: that lives in rules.
//
// State lives in one folder (Config.StateDir, 0700): the enrollment (identity.json, the token
// in token, both 0600), the queue (queue.db), the last good policy bundle (policy.json) and a
// status file (status.json) that service managers and the installer read (ReadStatus).
package agent
