// Package process is the process collector: it reports process starts as process_creation and
// exits as process_termination events (docs/events.md), with the executable's SHA-256 from a
// bounded cache. On Linux it listens to the kernel's process-events connector (netlink), so even
// a process that lives milliseconds is seen, and falls back to polling when the connector is
// refused; on macOS and Windows it polls the process table (gopsutil) and reports differences.
package process
