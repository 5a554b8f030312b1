package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// `vigil demo` in process: the server answers at the printed URL with the printed login, the
// agent enrolled to it reports a process a rule matches, and cancelling stops both.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	a := newE2EAgent(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut e2eBuffer
	done := make(chan error, 1)
	go func() {
		done <- e2eRun(ctx, &out, &errOut, "demo", "--data", filepath.Join(dir, "vigil-demo"), "--listen", "127.0.0.1:0",
			"--only", "process", "--rules", a.rules, "--log-level", "warn")
	}()
	waitUntil(t, 60*time.Second, "the demo's banner", func() bool {
		select {
		case err := <-done:
			t.Fatalf("demo ended: %v\n%s\n%s", err, out.String(), errOut.String())
		default:
		}
		return strings.Contains(out.String(), "Press Ctrl-C to stop.")
	})
	url := regexp.MustCompile(`URL:\s+(http://127\.0\.0\.1:\d+)`).FindStringSubmatch(out.String())
	login := regexp.MustCompile(`Login:\s+admin / (\S+)`).FindStringSubmatch(out.String())
	if url == nil || login == nil {
		t.Fatalf("banner without URL or login:\n%s", out.String())
	}
	// The web UI answers at the URL (its login page).
	resp, err := http.Get(url[1] + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(strings.ToLower(string(page)), "<html") {
		t.Fatalf("GET / answered %d:\n%.300s", resp.StatusCode, page)
	}
	// The login works.
	resp, err = http.Post(url[1]+"/api/v1/auth/login", "application/json", strings.NewReader(`{"username":"admin","password":"`+login[1]+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		Token string `json:"token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if resp.StatusCode != 200 || tok.Token == "" {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	// The agent reports.
	c := a.startTool(1)
	defer c.Wait()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("demo log:\n%s", lastLines(errOut.String(), 30))
		}
	})
	waitUntil(t, 60*time.Second, "the finding in the demo's API", func() bool {
		req, _ := http.NewRequest(http.MethodGet, url[1]+"/api/v1/findings?rule="+e2eToolRuleID, nil)
		req.Header.Set("Authorization", "Bearer "+tok.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var fl struct {
			Findings []e2eFinding `json:"findings"`
		}
		return json.NewDecoder(resp.Body).Decode(&fl) == nil && len(fl.Findings) == 1
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("demo stopped with %v\n%s", err, errOut.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("demo did not stop within 60 s")
	}
	if !strings.Contains(out.String(), "Vigil demo stopped.") {
		t.Fatalf("output:\n%s", out.String())
	}
	for _, p := range []string{"server/vigil.db", "agent/token", "agent/queue.db"} {
		if _, err := os.Stat(filepath.Join(dir, "vigil-demo", p)); err != nil {
			t.Errorf("demo data: %v", err)
		}
	}
}

// The demo refuses a listen address that is not loopback, in its own flag's words.
func TestDemoListenLoopbackOnly(t *testing.T) {
	for _, listen := range []string{"0.0.0.0:0", ":8080", "192.0.2.1:8080", "127.0.0.1"} {
		var out, errOut e2eBuffer
		err := e2eRun(context.Background(), &out, &errOut, "demo", "--data", t.TempDir(), "--listen", listen)
		if err == nil || !strings.Contains(err.Error(), "--listen") || strings.Contains(err.Error(), "insecure") {
			t.Errorf("demo --listen %s: %v, want an error about --listen", listen, err)
		}
	}
}
