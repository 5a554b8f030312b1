// Package correlate evaluates Sigma correlation rules as streaming state machines. It consumes
// base-rule matches (and its own firings, for chained correlations) and emits a Firing whenever a
// correlation's condition holds for a group of events within its timespan. It knows nothing of
// rule files: the policies facade resolves rule names to indexes and converts each correlation
// document into a Spec. docs/correlation.md ("Correlation semantics") states every decision the
// engine makes (windows, boundaries, re-firing, ordering ties, missing fields, eviction).
//
// An Engine is not safe for concurrent use: drive each Engine from one goroutine.
package correlate
