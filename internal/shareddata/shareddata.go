// Package shareddata locates the shared test corpus (../shared/testdata beside the checkout: SigmaHQ
// rules, the LOLRMM catalog, IP-KVM captures, EDIDs) for tests. Tests skip with a clear message
// when it is absent, unless VIGIL_REQUIRE_TESTDATA=1, when they fail instead. VIGIL_TESTDATA
// overrides the location.
package shareddata

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the shared testdata folder joined with elem, skipping (or, when required, failing)
// the test when it is missing.
func Dir(tb testing.TB, elem ...string) string {
	tb.Helper()
	base, err := find()
	if err == nil {
		p := filepath.Join(append([]string{base}, elem...)...)
		if _, err = os.Stat(p); err == nil {
			return p
		}
	}
	msg := "shared testdata not found (" + err.Error() + "); it lives in ../shared/testdata beside the checkout, or set VIGIL_TESTDATA"
	if os.Getenv("VIGIL_REQUIRE_TESTDATA") == "1" {
		tb.Fatal(msg + " (VIGIL_REQUIRE_TESTDATA=1)")
	}
	tb.Skip(msg)
	return ""
}

func find() (string, error) {
	if d := os.Getenv("VIGIL_TESTDATA"); d != "" {
		return d, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	// Walk up to the module root (the folder with go.mod), then look beside it.
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(filepath.Dir(dir), "shared", "testdata"), nil
		}
		if parent := filepath.Dir(dir); parent == dir {
			return "", os.ErrNotExist
		}
	}
}
