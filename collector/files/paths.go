package files

import (
	"fmt"
	"path"
	"strings"
)

// DefaultExcludes are trees that change constantly for reasons unrelated to staging: build and
// package caches, VCS object stores, bytecode caches. Excluded trees get no watches.
var DefaultExcludes = []string{
	// XDG cache (~/.cache) itself is watched (a hidden place to stage in), its busy tools' and
	// browsers' caches are not; a hidden folder's watches are bounded anyway (HiddenWatchLimit).
	".cache/go-build", ".cache/pip", ".cache/mozilla", ".cache/google-chrome", ".cache/chromium",
	".cache/BraveSoftware", ".cache/microsoft-edge", ".cache/thumbnails", ".cache/fontconfig",
	".cache/mesa_shader_cache", ".cache/JetBrains", ".cache/yarn", ".cache/pnpm", ".cache/node-gyp",
	".cache/typescript", ".cache/ms-playwright", ".cache/bazel", ".cache/gopls", ".cache/golangci-lint",
	".cache/huggingface", ".cache/tracker3", ".cache/gstreamer-1.0", ".cache/pre-commit",
	".cache/composer", ".cache/deno", ".cache/ccache", ".cache/sccache", ".cache/electron", ".cache/spotify",
	"go/pkg/mod",      // Go module cache
	"node_modules",    // npm packages
	".git/objects",    // git object store (a clone shows as the working tree's files instead)
	"__pycache__",     // Python bytecode
	"target",          // Cargo and Maven build output
	".gradle",         // Gradle caches
	".m2/repository",  // Maven repository
	".cargo/registry", // Cargo registry
	".rustup",         // Rust toolchains
	".npm",            // npm cache
	".vscode-server",  // VS Code remote server
	"Library/Caches",  // macOS caches
	"Library/Containers/*/Data/Library/Caches",
	"AppData/Local/Microsoft/Windows/INetCache",
	"AppData/Local/Packages",
	".Trash",
	"$RECYCLE.BIN",
}

// Matcher decides whether a path is excluded. Patterns are glob-ish: a pattern is a sequence of
// path segments separated by "/" (also accepted: "\"), each segment a path.Match glob (*, ?,
// [a-z]); it matches a path containing that sequence of segments anywhere ("node_modules" matches
// every node_modules folder, ".git/objects" every git object store). A pattern starting with "/"
// or a drive letter ("C:/") is anchored at the start of the path. "**" matches any number of
// segments. Matching is case-insensitive, as Windows and macOS file systems usually are.
type Matcher struct {
	pats []pattern
}

type pattern struct {
	segs     []string
	anchored bool
}

// NewMatcher compiles patterns; an invalid glob is an error naming it.
func NewMatcher(patterns []string) (*Matcher, error) {
	m := &Matcher{}
	for _, p := range patterns {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		anchored := strings.HasPrefix(p, "/") || strings.HasPrefix(p, `\`) || hasDrive(p)
		segs := splitPath(strings.ToLower(p))
		if len(segs) == 0 {
			continue
		}
		for _, s := range segs {
			if _, err := path.Match(s, ""); err != nil {
				return nil, fmt.Errorf("exclude pattern %q: segment %q: %w", p, s, err)
			}
		}
		m.pats = append(m.pats, pattern{segs: segs, anchored: anchored})
	}
	return m, nil
}

func hasDrive(p string) bool {
	return len(p) >= 2 && p[1] == ':' && (p[0]|0x20) >= 'a' && (p[0]|0x20) <= 'z'
}

// splitPath splits on both separators and drops empty segments.
func splitPath(p string) []string {
	return strings.FieldsFunc(p, func(r rune) bool { return r == '/' || r == '\\' })
}

// Excluded reports whether p (an absolute path) or one of its ancestors matches a pattern.
func (m *Matcher) Excluded(p string) bool {
	if m == nil || len(m.pats) == 0 {
		return false
	}
	segs := splitPath(strings.ToLower(p))
	for _, pat := range m.pats {
		if pat.anchored {
			if matchPrefix(pat.segs, segs) {
				return true
			}
			continue
		}
		for i := range segs {
			if matchPrefix(pat.segs, segs[i:]) {
				return true
			}
		}
	}
	return false
}

// matchPrefix reports whether pat matches a leading run of segs.
func matchPrefix(pat, segs []string) bool {
	if len(pat) == 0 {
		return true
	}
	if pat[0] == "**" {
		for i := 0; i <= len(segs); i++ {
			if matchPrefix(pat[1:], segs[i:]) {
				return true
			}
		}
		return false
	}
	if len(segs) == 0 {
		return false
	}
	if ok, _ := path.Match(pat[0], segs[0]); !ok {
		return false
	}
	return matchPrefix(pat[1:], segs[1:])
}

// Cloud sync providers reported in CloudSync.
const (
	CloudDropbox     = "dropbox"
	CloudGoogleDrive = "googledrive"
	CloudOneDrive    = "onedrive"
	CloudICloud      = "icloud"
	CloudMega        = "mega"
)

// CloudProvider returns the sync provider whose folder holds p, or "". It knows the default folder
// names of the desktop clients: Dropbox ("Dropbox", "Dropbox (Team)"), Google Drive ("Google
// Drive", "My Drive", macOS ~/Library/CloudStorage/GoogleDrive-<account>), OneDrive ("OneDrive",
// "OneDrive - <org>", macOS CloudStorage/OneDrive-<org>), iCloud (~/Library/Mobile Documents,
// Windows "iCloud Drive"/"iCloudDrive") and MEGA ("MEGA", "MEGAsync", "MEGA Downloads").
func CloudProvider(p string) string {
	segs := splitPath(p)
	for i, s := range segs {
		l := strings.ToLower(s)
		switch {
		case l == "dropbox" || strings.HasPrefix(l, "dropbox (") || strings.HasPrefix(l, "dropbox-"):
			return CloudDropbox
		case l == "google drive" || l == "googledrive" || strings.HasPrefix(l, "googledrive-") || l == "my drive" && i > 0 && strings.HasPrefix(strings.ToLower(segs[i-1]), "google"):
			return CloudGoogleDrive
		case l == "onedrive" || strings.HasPrefix(l, "onedrive -") || strings.HasPrefix(l, "onedrive-"):
			return CloudOneDrive
		case l == "mobile documents" && i > 0 && strings.EqualFold(segs[i-1], "Library"),
			l == "icloud drive" || l == "iclouddrive" || strings.HasPrefix(l, "icloud drive ("):
			return CloudICloud
		case l == "mega" || l == "megasync" || l == "mega downloads":
			return CloudMega
		}
	}
	return ""
}
