// Package policies is Vigil's detection-policy facade: it loads Sigma rule files (rules,
// correlations, filters) into an immutable Ruleset, and runs them over events with an Engine
// that emits Findings. Parsing lives in policies/sigma, matching and the prefilter index in
// policies/match, correlation state machines in policies/correlate. docs/policies.md ("Engine
// semantics") states every decision the engine takes where Sigma leaves a choice.
package policies
