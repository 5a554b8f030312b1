package files

import (
	"os"
	"path/filepath"
	"sort"
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
