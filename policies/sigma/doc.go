// Package sigma parses Sigma rule files (rules, correlations and filters, several YAML documents
// per file) into a syntax tree that keeps every scalar's lexical text and position. It checks the
// structure strictly (detections, modifier chains, conditions, correlation blocks) and the metadata
// leniently; problems are values (Error) naming the file, line and column. Compiling detections
// into matchers is package match's job.
package sigma
