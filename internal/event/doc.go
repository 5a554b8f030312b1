// Package event defines Vigil's one event schema, used end to end: collectors emit it, the policy
// engine matches it, the agent queues and ships it, the server stores it. Field names follow the
// Sigma taxonomy (Sysmon names) wherever one exists; docs/events.md lists every category and field.
package event
