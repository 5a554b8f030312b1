// Package winreg reads text that Windows tools write — UTF-16 with a BOM (reg export,
// PowerShell `>`) or UTF-8 — and parses `reg export` .reg files into keys and typed values.
package winreg
