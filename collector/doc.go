// Package collector holds the endpoint sources: each watches one kind of activity (processes,
// network connections, files, USB devices, displays, host settings, removable media) and emits
// events in the schema of internal/event. Every OS path root is configurable through Options, so
// tests and forensic runs read fixture trees instead of the live system. Per-OS code lives only in
// _linux.go, _darwin.go and _windows.go files.
package collector
