// Package display is the display collector: it reports each connected display and the
// identity in its EDID (display events, see docs/events.md), at start and when displays come
// and go. IP-KVMs show up here as "monitors" with tell-tale EDIDs. It reads Linux DRM sysfs,
// macOS ioreg or system_profiler output, and the Windows registry; the parsers for each are
// plain files, so saved dumps (Config.SysfsRoot, IoregFile, SystemProfilerFile, RegistryFile)
// are read the same way on any OS.
package display
