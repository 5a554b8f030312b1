package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var (
	binOnce sync.Once
	binPath string
	binDir  string
	binErr  error
)

// Binary builds the vigil binary once per test run and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		_, self, _, ok := runtime.Caller(0)
		if !ok {
			binErr = fmt.Errorf("cannot locate the e2e package's source")
			return
		}
		if binDir, binErr = os.MkdirTemp("", "vigil-e2e-bin-"); binErr != nil {
			return
		}
		// Readable by every user: agents and tools may run as others.
		if binErr = os.Chmod(binDir, 0o755); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "vigil")
		cmd := exec.Command("go", "build", "-o", binPath, "github.com/vigilhq/vigil/cmd/vigil")
		cmd.Dir = filepath.Dir(self)
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build ./cmd/vigil: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// Cleanup removes the binary; TestMain calls it after the run.
func Cleanup() {
	if binDir != "" {
		os.RemoveAll(binDir)
	}
}
