// Package wire is the contract between the Vigil agent and the Vigil server (the mission's
// central collector): the HTTP paths of the agent API, the JSON bodies of enrollment, batches,
// check-ins and policy bundles, the size limits both sides honour, the error envelope every API
// answer uses, and the canonical encoding and ed25519 signature of a policy bundle. It does no
// I/O: the agent's transport and the server's API both build on it, and neither imports the
// other.
//
// The protocol, in short (docs/protocol.md has the long form):
//
//   - POST /api/v1/agent/enroll with the enroll secret and the host's facts returns the agent's
//     id, its bearer token, the server's policy-signing public key and the check-in interval.
//     Enrolling again from the same machine id returns the same host.
//   - POST /api/v1/agent/batch (bearer agent token, body optionally gzip-compressed) carries
//     events, findings, inventory snapshots and the agent's health counters. The server answers
//     200 only once the store has committed the batch; ids already stored are ignored, so a
//     retried batch never duplicates anything. The host of every item is the token's host.
//   - POST /api/v1/agent/checkin (bearer agent token) is the heartbeat.
//   - GET /api/v1/agent/policy returns the current signed policy bundle.
//
// Every successful answer carries Directives: the check-in interval and the current policy
// version, so an agent learns of a new bundle from whatever call it makes next.
package wire
