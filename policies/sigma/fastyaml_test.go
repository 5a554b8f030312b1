package sigma

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/vigilhq/vigil/internal/shareddata"
)

// sameTree reports the first difference between two node trees (comments aside), or "".
func sameTree(a, b *yaml.Node, path string) string {
	switch {
	case a == nil || b == nil:
		if a != b {
			return path + ": one tree is empty"
		}
		return ""
	case a.Kind != b.Kind || a.Style != b.Style || a.Tag != b.Tag || a.Value != b.Value || a.Line != b.Line || a.Column != b.Column:
		return fmt.Sprintf("%s: fast {K%d S%d %s %q %d:%d}, yaml.v3 {K%d S%d %s %q %d:%d}", path,
			a.Kind, a.Style, a.Tag, a.Value, a.Line, a.Column, b.Kind, b.Style, b.Tag, b.Value, b.Line, b.Column)
	case len(a.Content) != len(b.Content):
		return fmt.Sprintf("%s: %d children, yaml.v3 %d", path, len(a.Content), len(b.Content))
	}
	for i := range a.Content {
		if d := sameTree(a.Content[i], b.Content[i], fmt.Sprintf("%s/%d", path, i)); d != "" {
			return d
		}
	}
	return ""
}

func yamlV3(data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

// checkFast compares the fast path with yaml.v3 on one chunk: when the fast path answers, the
// trees are the same. It reports whether the fast path answered.
func checkFast(t *testing.T, name string, data []byte) bool {
	t.Helper()
	fast, err := fastYAML(data)
	if err == errSlowPath {
		return false
	}
	want, werr := yamlV3(data)
	if werr != nil {
		t.Errorf("%s: the fast path parsed what yaml.v3 refuses (%v)", name, werr)
		return true
	}
	if d := sameTree(fast, want, ""); d != "" {
		t.Errorf("%s: %s", name, d)
	}
	return true
}

// TestFastYAMLMatchesYAMLv3: over every rule and test file of the corpus, the built-in pack and
// the shared examples, the fast path gives yaml.v3's tree or steps aside.
func TestFastYAMLMatchesYAMLv3(t *testing.T) {
	roots := []string{filepath.Join("..", "rules"), shareddata.Dir(t, "sigmahq-full"), shareddata.Dir(t, "sigmahq"), shareddata.Dir(t, "lolrmm")}
	docs, fast := 0, 0
	for _, root := range roots {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".yml") || strings.HasSuffix(p, ".yaml")) {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			for _, c := range splitDocuments(data) {
				docs++
				if checkFast(t, fmt.Sprintf("%s:%d", p, c.line), c.data) {
					fast++
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d documents, %d (%.1f%%) on the fast path", docs, fast, 100*float64(fast)/float64(docs))
	if fast*10 < docs*9 {
		t.Errorf("only %d of %d documents take the fast path", fast, docs)
	}
}

func TestFastYAMLCases(t *testing.T) {
	for _, s := range []string{
		"title: x\nlist:\n  - a\n  - 'b'\nflow: [1, \"c\", {k: v}]\nd: |\n  line1\n\n  line2\nf: >-\n  a\n  b\n\n  c\nm:\n- x\n- k: v\n  k2: w\nt: 2023-01-01\n",
		"a: \"x\\ty\\u00e9\\\\\" # c\nb: 'it''s'\nc: plain # comment\nd: long plain\n  continued\n   again\n",
		"detection:\n    sel:\n        Image|endswith:\n            - '\\x.exe'\n        '|all':\n            - a\n            - b\n    condition: sel\n",
		"a: |\n  x\n  # in the block\nb: 1\n", "a: |\n  x\n  \nb: 1\n", "a:\n", "a: &x 1\nb: *x\n", "- a\n", "a: [1,\n 2]\n",
		"a: b: c\n", "a: [a, ]\n", "a: {a: 1, b}\n", "a: 'x' y\n", "a:\n  - b\n c: d\n", "a: >+\n  x\n", "a: |2\n  x\n",
		"a:\n    b: 1\n  c: 2\n", "é: ü\nb: [é, 'ü']\n", "a: 0x17\nb: yes\nc: ~\nd: 1e3\ne: .5\n", "a:\n- b\n-\n  c\n",
	} {
		checkFast(t, fmt.Sprintf("%q", s), []byte(s))
	}
}

// FuzzFastYAML: on any input the fast path either steps aside or gives yaml.v3's tree.
func FuzzFastYAML(f *testing.F) {
	f.Add([]byte("title: x\nlogsource: {product: windows}\ndetection:\n  sel:\n    A|contains: ['a', \"b\"]\n  condition: sel\n"))
	f.Add([]byte("d: >-\n  a\n  b\n\n  c\nl:\n- k: v\n  k2: w\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 {
			return
		}
		for _, c := range splitDocuments(data) {
			fast, err := fastYAML(c.data)
			if err == errSlowPath {
				continue
			}
			want, werr := yamlV3(c.data)
			if werr != nil {
				t.Fatalf("the fast path parsed %q, which yaml.v3 refuses: %v", c.data, werr)
			}
			if d := sameTree(fast, want, ""); d != "" {
				t.Fatalf("%q: %s", c.data, d)
			}
		}
	})
}
