package policies

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every package under policies with several files keeps its package comment in doc.go, and only
// there, so it is found where a reader looks for it.
func TestPackageDocsInDocGo(t *testing.T) {
	dirs := map[string][]string{}
	err := filepath.WalkDir(".", func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		dirs[filepath.Dir(p)] = append(dirs[filepath.Dir(p)], p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for dir, files := range dirs {
		for _, f := range files {
			file, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			hasDoc := file.Doc != nil
			switch {
			case len(files) > 1 && filepath.Base(f) == "doc.go" && !hasDoc:
				t.Errorf("%s has no package comment", f)
			case len(files) > 1 && filepath.Base(f) != "doc.go" && hasDoc:
				t.Errorf("%s: the package comment of %s belongs in doc.go", f, dir)
			case len(files) == 1 && !hasDoc:
				t.Errorf("%s has no package comment", f)
			}
		}
		if len(files) > 1 {
			if _, err := os.Stat(filepath.Join(dir, "doc.go")); err != nil {
				t.Errorf("%s has %d files and no doc.go", dir, len(files))
			}
		}
	}
}
