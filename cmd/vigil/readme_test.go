package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeCodeMap: every package folder under the top-level folders is named in the README's
// code map, in its folder's row, so the map stays a map of the code.
func TestReadmeCodeMap(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "## Code map\n")
	if !ok {
		t.Fatal("README.md has no '## Code map' section")
	}
	section, _, _ := strings.Cut(after, "\n## ")
	rows := map[string]string{} // top folder -> its row (the first cell names it)
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 3 {
			continue
		}
		top := strings.Trim(strings.TrimSpace(cells[1]), "`/")
		top, _, _ = strings.Cut(top, "/")
		rows[top] += line
	}
	for _, top := range []string{"agent", "collector", "policies", "server", "installer", "internal"} {
		entries, err := os.ReadDir(filepath.Join("..", "..", top))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if !e.IsDir() || e.Name() == "testdata" {
				continue
			}
			goFiles, _ := filepath.Glob(filepath.Join("..", "..", top, e.Name(), "*.go"))
			if len(goFiles) == 0 {
				continue
			}
			if !strings.Contains(rows[top], "`"+e.Name()+"`") && !strings.Contains(rows[top], "`"+top+"/"+e.Name()+"`") {
				t.Errorf("README.md's code map does not name %s/%s in the %s/ row", top, e.Name(), top)
			}
		}
	}
}
