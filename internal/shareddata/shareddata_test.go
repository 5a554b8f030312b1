package shareddata

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// tb records what Dir asks of a test; Skip and Fatal end the goroutine, as the real ones do.
type tb struct {
	testing.TB
	skipped, failed string
}

func (t *tb) Helper()           {}
func (t *tb) Skip(args ...any)  { t.skipped = fmt.Sprint(args...); runtime.Goexit() }
func (t *tb) Fatal(args ...any) { t.failed = fmt.Sprint(args...); runtime.Goexit() }

// dir runs Dir as a test body would.
func dir(r *tb, elem ...string) string {
	var got string
	done := make(chan struct{})
	go func() {
		defer close(done)
		got = Dir(r, elem...)
	}()
	<-done
	return got
}

func TestDirFromEnvironment(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "sigmahq", "rules"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("VIGIL_TESTDATA", root)
	t.Setenv("VIGIL_REQUIRE_TESTDATA", "")
	var r tb
	if got := dir(&r, "sigmahq", "rules"); got != filepath.Join(root, "sigmahq", "rules") || r.skipped != "" || r.failed != "" {
		t.Errorf("Dir = %q (skipped %q, failed %q)", got, r.skipped, r.failed)
	}

	// Missing: a skip with the reason, or a failure when the data is required.
	r = tb{}
	if got := dir(&r, "absent"); got != "" || !strings.Contains(r.skipped, "shared testdata not found") || r.failed != "" {
		t.Errorf("missing: %q (skipped %q, failed %q)", got, r.skipped, r.failed)
	}
	t.Setenv("VIGIL_REQUIRE_TESTDATA", "1")
	r = tb{}
	if dir(&r, "absent"); !strings.Contains(r.failed, "VIGIL_REQUIRE_TESTDATA=1") || r.skipped != "" {
		t.Errorf("required and missing: skipped %q, failed %q", r.skipped, r.failed)
	}
}

// Without VIGIL_TESTDATA, the corpus is looked for beside the module root.
func TestFindBesideModule(t *testing.T) {
	t.Setenv("VIGIL_TESTDATA", "")
	dir, err := find()
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	module := filepath.Dir(filepath.Dir(wd)) // internal/shareddata -> the module root
	if _, err := os.Stat(filepath.Join(module, "go.mod")); err != nil {
		t.Fatalf("module root %s: %v", module, err)
	}
	if want := filepath.Join(filepath.Dir(module), "shared", "testdata"); dir != want {
		t.Errorf("find = %q, want %q", dir, want)
	}
}
