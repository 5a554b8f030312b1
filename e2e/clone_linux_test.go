package e2e

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// run runs a command in dir, failing the test when it fails.
func run(t testing.TB, dir string, name string, args ...string) {
	t.Helper()
	c := exec.Command(name, args...)
	c.Dir = dir
	c.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_AUTHOR_NAME=e2e", "GIT_AUTHOR_EMAIL=e2e@example.com",
		"GIT_COMMITTER_NAME=e2e", "GIT_COMMITTER_EMAIL=e2e@example.com")
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// massClones keeps TestMassClone and TestBenignDeveloperHour apart: the benign workload clones
// repositories too, and its agent (like every agent on the machine) would count the mass
// clone's fifteen with them (staging_git_mass_clone, medium, on the workload's evidence).
var massClones sync.Mutex

// TestMassClone: fifteen local bare repositories cloned within a minute raise
// staging_git_mass_clone on the agent's host; that finding is forwarded to a syslog receiver
// and a webhook the test starts, configured as an admin does on the settings page.
func TestMassClone(t *testing.T) {
	t.Parallel()
	massClones.Lock()
	defer massClones.Unlock()
	NeedRoot(t, "the kernel's process connector (short processes such as git clone)")
	git := Need(t, "git")
	srv := StartServer(t, ServerOptions{})
	hook, syslog := StartWebhook(t), StartSyslog(t)
	ui := srv.SignIn(t)
	ui.AddDestination(t, url.Values{"name": {"siem-webhook"}, "type": {"webhook"}, "enabled": {"on"}, "url": {hook.URL},
		"format": {"json"}, "min_level": {"medium"}, "rules": {"staging_git_mass_clone"}})
	ui.AddDestination(t, url.Values{"name": {"siem-syslog"}, "type": {"syslog"}, "enabled": {"on"}, "network": {"tcp"},
		"address": {syslog.Addr}, "format": {"text"}, "min_level": {"medium"}, "rules": {"staging_git_mass_clone"}})

	// Fifteen bare repositories (init + push, before the agent starts: git init counts as half
	// of a clone by hand), then cloned one by one.
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	run(t, "", git, "init", "-q", "-b", "main", src)
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte("package main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, src, git, "add", ".")
	run(t, src, git, "commit", "-q", "-m", "first")
	for i := range 15 {
		bare := filepath.Join(dir, "server", fmt.Sprintf("svc-%02d.git", i))
		run(t, "", git, "init", "-q", "--bare", bare)
		run(t, src, git, "push", "-q", bare, "main")
	}
	agent := StartAgent(t, srv, AgentOptions{Name: "clone", Only: []string{"process"}})
	work := filepath.Join(dir, "exfil-workdir")
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	var starts []time.Time
	for i := range 15 {
		starts = append(starts, time.Now())
		run(t, work, git, "clone", "-q", "file://"+filepath.Join(dir, "server", fmt.Sprintf("svc-%02d.git", i)))
	}
	t.Logf("15 clones in %s", time.Since(starts[0]).Round(time.Millisecond))
	// The rule fires at its tenth clone within the hour.
	tenth := starts[9]
	got := agent.Await(t, tenth, 60*time.Second, "staging_git_mass_clone naming the clones", Rule("staging_git_mass_clone", func(ev Event) bool {
		return ev.Str("CurrentDirectory") == work || strings.Contains(ev.Str("CommandLine"), work) || strings.Contains(ev.Str("CommandLine"), filepath.Join(dir, "server"))
	}))
	if got.Finding.Level != "medium" {
		t.Errorf("staging_git_mass_clone at %s, want medium", got.Finding.Level)
	}
	Record(t, "mass clone", "15 clones: 10th clone started -> staging_git_mass_clone", got.Latency, "")

	// Forwarded, once, to both receivers.
	received := got.Finding.Received
	var hookAt, syslogAt time.Time
	WaitFor(t, 60*time.Second, "the alert at the webhook and the syslog receiver", func() bool {
		var body map[string]any
		body, hookAt = hook.Received(got.Finding.ID)
		var msg string
		msg, syslogAt = syslog.Received(got.Finding.ID)
		return body != nil && msg != ""
	})
	body, _ := hook.Received(got.Finding.ID)
	if body["rule_name"] != "staging_git_mass_clone" || body["level"] != "medium" || body["host_id"] != agent.HostID {
		t.Errorf("webhook alert %v", body)
	}
	msg, _ := syslog.Received(got.Finding.ID)
	if !strings.HasPrefix(msg, "<132>1 ") || !strings.Contains(msg, `rule_name="staging_git_mass_clone"`) || !strings.Contains(msg, `level="medium"`) {
		t.Errorf("syslog message %q: want PRI 132 (local0, warning) and the rule", msg)
	}
	// Once: a while later, neither receiver has had it twice (a retry after a delivery that
	// succeeded, or two replicas' forwarders, would show here).
	time.Sleep(5 * time.Second)
	if n, m := hook.Count(got.Finding.ID), syslog.Count(got.Finding.ID); n != 1 || m != 1 {
		t.Errorf("the alert was delivered %d times to the webhook and %d times to syslog, want once each", n, m)
	}
	Record(t, "forwarding", "finding stored -> webhook received", hookAt.Sub(received), "")
	Record(t, "forwarding", "finding stored -> syslog (TCP, RFC 5424) received", syslogAt.Sub(received), "")
}
