// Package media is the removable-media collector: it reports removable volumes mounted at
// start and mounted or unmounted afterwards (removable_media events, see docs/events.md), and
// answers other collectors' questions "is this path on removable media?" and "which removable
// mount points are there?" (Source.IsRemovable, Source.Mounts, Source.Subscribe). It reads
// Linux mountinfo and sysfs, macOS mounts under /Volumes with diskutil, and Windows drive
// types; the parsers are plain files, so saved dumps are read the same way on any OS.
package media
