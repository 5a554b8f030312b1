// Package match compiles Sigma detections (from package sigma) into matchers over events, with
// Sigma's value modifiers, and builds the prefilter index that keeps the cost per event far below
// "evaluate every rule": rules are bucketed by logsource and each rule's necessary literals are fed
// to an Aho-Corasick automaton per field, so only rules whose literals occur are evaluated.
package match
