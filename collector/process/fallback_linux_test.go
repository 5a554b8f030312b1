package process

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigilhq/vigil/internal/event"
)

// TestAutomaticFallbackInNamespace runs this test binary again inside new user and PID
// namespaces (as a container would), where the kernel ignores the connector subscription: Run
// must notice, warn, and poll.
func TestAutomaticFallbackInNamespace(t *testing.T) {
	if os.Getenv("VIGIL_FALLBACK_CHILD") == "1" {
		fallbackChild(t)
		return
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("unshare not installed")
	}
	probe := exec.Command(unshare, "--user", "--map-root-user", "--pid", "--fork", "--mount-proc", "true")
	if err := probe.Run(); err != nil {
		t.Skipf("cannot create user and PID namespaces here: %v", err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(unshare, "--user", "--map-root-user", "--pid", "--fork", "--mount-proc",
		self, "-test.run", "^TestAutomaticFallbackInNamespace$", "-test.v")
	cmd.Env = append(os.Environ(), "VIGIL_FALLBACK_CHILD=1")
	out, err := cmd.CombinedOutput()
	t.Logf("child:\n%s", out)
	if err != nil {
		t.Fatalf("child failed: %v", err)
	}
	if !bytes.Contains(out, []byte("--- PASS: TestAutomaticFallbackInNamespace")) {
		t.Fatal("child did not run the check")
	}
}

func fallbackChild(t *testing.T) {
	var logs bytes.Buffer
	s := New(Config{PollInterval: 100 * time.Millisecond, Logger: hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Warn})})
	rec := newRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, rec.emit) }()
	got := rec.wait(t, 20*time.Second, 1, isPid(event.ProcessCreation, os.Getpid()))
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Fields["Snapshot"] != true {
		t.Fatalf("snapshot of this process: %v", got)
	}
	if s.Mode() != ModePoll {
		t.Fatalf("mode = %q, want poll", s.Mode())
	}
	if !strings.Contains(logs.String(), "falling back to polling") {
		t.Fatalf("no fallback warning in %q", logs.String())
	}
}
