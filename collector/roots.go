package collector

import (
	"fmt"
	"os"
)

// Root is a folder that stands for a live system path (Stands, "/etc") in a fixture or
// forensic tree. An empty Path means the live path itself.
type Root struct {
	Stands, Path string
}

// CheckRoots makes sure every given root is a folder that exists: a root that is missing
// would make a source report less than is there while looking as if it had read it.
func CheckRoots(roots ...Root) error {
	for _, r := range roots {
		if r.Path == "" {
			continue
		}
		st, err := os.Stat(r.Path)
		if err != nil {
			return fmt.Errorf("root for %s: %w", r.Stands, err)
		}
		if !st.IsDir() {
			return fmt.Errorf("root for %s: %s is not a folder", r.Stands, r.Path)
		}
	}
	return nil
}
