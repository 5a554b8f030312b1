package files

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// subdirs lists the directories directly under dir (users' home folders under /home, /Users,
// C:\Users), skipping names in skip.
func subdirs(dir string, skip ...string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
next:
	for _, e := range ents {
		for _, s := range skip {
			if e.Name() == s {
				continue next
			}
		}
		if e.IsDir() {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out
}

// existing keeps the paths that exist as directories, cleaned, sorted and without duplicates.
func existing(paths []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range paths {
		if p == "" {
			continue
		}
		p = filepath.Clean(p)
		if seen[p] {
			continue
		}
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			seen[p] = true
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// The watched roots: the configured folders and removable volumes as they come and go.

// Roots returns the configured roots, sorted.
func (s *Source) Roots() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.roots))
	for r := range s.roots {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// AddRoot starts watching dir recursively (a removable volume that was mounted), replacing any
// watches already at or below dir. Files already there are not reported. Before Run it only
// records the root.
func (s *Source) AddRoot(dir string) error {
	dir = filepath.Clean(dir)
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("files: add root: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("files: add root %s: not a directory", dir)
	}
	s.mu.Lock()
	s.roots[dir] = true
	running := s.w != nil
	if running {
		// A volume mounted on a folder already watched (a stick mounted inside a home folder)
		// hides that folder: its old watches see nothing of the volume, so they go.
		s.dropTreeLocked(dir)
	}
	s.mu.Unlock()
	if running {
		s.addTree(dir, false)
	}
	return nil
}

// RemoveRoot stops watching dir (a volume that was unmounted); folders also under another root
// stay watched.
func (s *Source) RemoveRoot(dir string) {
	dir = filepath.Clean(dir)
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.roots, dir)
	for p := range s.watched {
		if within(p, dir) && s.rootOf(p) == "" {
			if s.w != nil {
				_ = s.w.Remove(p)
			}
			s.unwatchLocked(p)
		}
	}
	for p := range s.pending {
		if within(p, dir) && s.rootOf(p) == "" {
			delete(s.pending, p)
		}
	}
	s.agg.forget(dir)
}

// within reports whether p is dir or below it.
func within(p, dir string) bool {
	if p == dir {
		return true
	}
	if !strings.HasPrefix(p, dir) {
		return false
	}
	if strings.HasSuffix(dir, string(filepath.Separator)) {
		return true
	}
	return p[len(dir)] == filepath.Separator
}

// rootOf returns the deepest root holding p ("" if none). s.mu must be held.
func (s *Source) rootOf(p string) string {
	best := ""
	for r := range s.roots {
		if len(r) > len(best) && within(p, r) {
			best = r
		}
	}
	return best
}

// excluded reports whether p is excluded or outside every root. s.mu must be held.
func (s *Source) excluded(p string) bool {
	root := s.rootOf(p)
	if root == "" {
		return true
	}
	if s.abs.Excluded(p) {
		return true
	}
	rel := strings.TrimPrefix(p[len(root):], string(filepath.Separator))
	return rel != "" && s.matcher.Excluded(rel)
}
