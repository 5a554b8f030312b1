//go:build linux || darwin

package host

import (
	"os"
	"path/filepath"
)

// homes lists the users' home folders under HomeRoot (plus RootHome on Linux).
func (s *Source) homes() []string {
	var out []string
	ents, _ := os.ReadDir(s.cfg.HomeRoot)
	for _, e := range ents {
		if e.IsDir() && e.Name() != "Shared" && e.Name() != "Guest" {
			out = append(out, filepath.Join(s.cfg.HomeRoot, e.Name()))
		}
	}
	return out
}
