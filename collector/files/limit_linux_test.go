package files

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// TestRealInotifyLimit lowers the kernel's inotify watch limit for real, inside a new user
// namespace (unshare -U -r) so that nothing else on the machine is affected: the limit,
// /proc/sys/user/max_inotify_watches, is per user namespace, and the namespace ends with the
// child process. The child runs TestRealInotifyLimitChild.
func TestRealInotifyLimit(t *testing.T) {
	if os.Getenv("VIGIL_INOTIFY_CHILD") != "" {
		t.Skip("in child")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("unshare not installed")
	}
	if err := exec.Command(unshare, "-U", "-r", "true").Run(); err != nil {
		t.Skipf("user namespaces not available: %v", err)
	}
	cmd := exec.Command(unshare, "-U", "-r", os.Args[0], "-test.run", "^TestRealInotifyLimitChild$", "-test.v")
	cmd.Env = append(os.Environ(), "VIGIL_INOTIFY_CHILD=1")
	out, err := cmd.CombinedOutput()
	t.Logf("child:\n%s", out)
	if err != nil {
		t.Fatalf("child failed: %v", err)
	}
	if !strings.Contains(string(out), "--- PASS: TestRealInotifyLimitChild") {
		t.Fatal("child did not pass")
	}
}

func TestRealInotifyLimitChild(t *testing.T) {
	if os.Getenv("VIGIL_INOTIFY_CHILD") == "" {
		t.Skip("run by TestRealInotifyLimit")
	}
	const limit = 20
	if err := os.WriteFile("/proc/sys/user/max_inotify_watches", []byte(fmt.Sprint(limit)), 0o644); err != nil {
		t.Skipf("cannot lower the limit: %v", err)
	}
	root := t.TempDir()
	for i := 0; i < 40; i++ {
		if err := os.MkdirAll(filepath.Join(root, fmt.Sprintf("d%02d", i), "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var logs bytes.Buffer
	logger := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Warn})
	s, rec, _ := start(t, Config{Roots: []string{root}, Excludes: []string{}, Logger: logger})
	st := s.Stats()
	t.Logf("stats with the kernel limit at %d: %+v", limit, st)
	if !st.WatchLimitReached || st.Watches > limit || st.Watches == 0 || st.UnwatchedDirs == 0 {
		t.Fatalf("stats %+v", st)
	}
	if !strings.Contains(logs.String(), "max_user_watches") || strings.Count(logs.String(), "watch limit reached") != 1 {
		t.Fatalf("warning:\n%s", logs.String())
	}
	p := filepath.Join(root, "x.txt")
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "event under the limit", 5e9, func() bool { return len(rec.find(p)) > 0 })
}
