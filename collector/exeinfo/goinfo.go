package exeinfo

import (
	"debug/buildinfo"
	"io"
)

// GoInfo is what a Go binary says about itself.
type GoInfo struct {
	// Package is the import path of the main package (`github.com/rclone/rclone`,
	// `github.com/cloudflare/cloudflared/cmd/cloudflared`). Present in every Go binary since
	// Go 1.13, whether built in module or GOPATH mode (Debian builds in GOPATH mode).
	Package string
	// Module is the main module's path (`github.com/rclone/rclone`); empty for a GOPATH build.
	Module string
	// Version is the main module's version (`v1.60.1`, `(devel)`); empty for a GOPATH build.
	Version string
}

// ReadGo reads the build information of a Go executable (ELF, Mach-O or PE). ok is false for a
// file that is not a Go binary or whose build information is missing or unreadable.
func ReadGo(r io.ReaderAt) (info GoInfo, ok bool) {
	bi, err := buildinfo.Read(r)
	if err != nil || bi == nil {
		return GoInfo{}, false
	}
	info = GoInfo{Package: clean(bi.Path), Module: clean(bi.Main.Path), Version: clean(bi.Main.Version)}
	return info, info.Package != "" || info.Module != ""
}

// clean bounds a string read from a hostile file: at most 256 bytes, no control characters.
func clean(s string) string {
	if len(s) > 256 {
		s = s[:256]
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return ""
		}
	}
	return s
}

// Fields returns the event fields for info (GoPackage, GoModule, GoModuleVersion), leaving out
// the empty ones.
func (info GoInfo) Fields(f map[string]any) {
	if info.Package != "" {
		f["GoPackage"] = info.Package
	}
	if info.Module != "" {
		f["GoModule"] = info.Module
	}
	if info.Version != "" && info.Module != "" {
		f["GoModuleVersion"] = info.Version
	}
}
