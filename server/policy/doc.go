// Package policy manages what the server tells agents to detect: the custom Sigma rule files
// admins write or import (each validated by the same engine the agents run, with file and line
// in every problem, and capped in size so one upload cannot exhaust memory), the built-in rules
// turned off, and the signed policy bundle every change publishes as a new version. It also
// answers "what is the text and author of rule X" for finding details.
package policy
