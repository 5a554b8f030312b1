// Package files is Vigil's data-staging telemetry: it watches home, temp and removable-media
// folders recursively with fsnotify and reports file_event events (created, modified, renamed,
// deleted), recognising archives by their magic bytes (and whether zip, 7z and rar archives are
// password-protected) and folding bursts of files in one directory into one aggregate event with
// exact totals. It reads names, sizes and archive headers only, never file contents.
package files
