package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/loadgen"
)

// TestMain lets the test binary serve as a server process of its own (childServer), so that a
// test can SIGKILL a real server process.
func TestMain(m *testing.M) {
	if os.Getenv("VIGIL_TEST_CHILD_SERVER") == "1" {
		os.Exit(childServer())
	}
	os.Exit(m.Run())
}

func childServer() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	srv, err := New(ctx, Config{Listen: os.Getenv("VIGIL_TEST_LISTEN"), DataDir: os.Getenv("VIGIL_TEST_DATA"), AgentRate: 1000, AgentBurst: 1000})
	if err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	fmt.Println("READY", srv.LocalURL())
	if err := srv.Run(ctx); err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	return 0
}

// startChild starts a server process on listen ("127.0.0.1:0" for any port) and returns it
// with its URL.
func startChild(t *testing.T, dir, listen string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "VIGIL_TEST_CHILD_SERVER=1", "VIGIL_TEST_DATA="+dir, "VIGIL_TEST_LISTEN="+listen)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "READY ") || strings.HasPrefix(sc.Text(), "ERROR ") {
				lines <- sc.Text()
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case l := <-lines:
		if !strings.HasPrefix(l, "READY ") {
			t.Fatalf("server process: %s", l)
		}
		return cmd, strings.TrimPrefix(l, "READY ")
	case <-time.After(60 * time.Second):
		t.Fatal("server process did not start within 60 s")
	}
	return nil, ""
}

// TestSIGKILLLosesNoAcknowledgedBatch kills the server process while agents send batches,
// restarts it on the same data directory and port, lets the agents retry, and checks that every
// batch the server acknowledged (before or after the kill) is stored, once.
func TestSIGKILLLosesNoAcknowledgedBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts a server process")
	}
	dir := t.TempDir()
	first, url := startChild(t, dir, "127.0.0.1:0")
	secret, err := os.ReadFile(dir + "/" + EnrollSecretFile)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(dir + "/tls/ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	type out struct {
		res loadgen.Result
		err error
	}
	done := make(chan out, 1)
	go func() {
		res, err := loadgen.RunKeepingIDs(context.Background(), loadgen.Config{Servers: []string{url}, EnrollSecret: strings.TrimSpace(string(secret)),
			CACertPEM: ca, Agents: 20, Duration: 12 * time.Second, EventsPerMin: 3000, BatchEvery: 200 * time.Millisecond, CheckinEvery: 5 * time.Second})
		done <- out{res, err}
	}()
	time.Sleep(4 * time.Second) // ingesting
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	t.Log("server killed")
	second, _ := startChild(t, dir, strings.TrimPrefix(url, "https://"))
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Logf("loadgen: %s (requests refused while the server was down: %d)", r.res.Line(), r.res.Errors)
	if r.res.Events == 0 || r.res.Errors == 0 {
		t.Fatalf("the run did not ingest across a kill: %s", r.res.Line())
	}
	if err := second.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := second.Wait(); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
	assertStored(t, openSQLite(t, dir), r.res)
}
