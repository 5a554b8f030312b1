// Package conformance holds the engine's conformance tests against real third-party data: the
// SigmaHQ regression cases (rules with the Windows events that must trigger them), replayed
// through the Windows event-log mapping and the policy engine exactly as `vigil policy eval
// --format evtx-json` would. It has no code of its own beyond the tests.
package conformance
