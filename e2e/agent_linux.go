package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/rdservers"
)

// AgentOptions configures a scenario's `vigil agent run`.
type AgentOptions struct {
	// Name goes into the machine id (e2e-NAME-RANDOM), so each agent is its own host.
	Name string
	// Only, FileRoots and Rules are --only, --files-root and --rules.
	Only      []string
	FileRoots []string
	Rules     []string
	// Netns runs the agent in that network namespace, with Hostname as its host name (its own
	// UTS namespace).
	Netns    *Netns
	Hostname string
	// Args are more flags.
	Args []string
}

// Agent is a running `vigil agent run` enrolled at a server, and a watcher of its host's
// findings in the admin API.
type Agent struct {
	MachineID string
	HostID    string
	State     string
	Proc      *rdservers.Proc

	srv *Server
	mu  sync.Mutex
	// seen: finding id -> when it was first listed; details: id -> the finding with its evidence.
	seen    map[string]time.Time
	details map[string]*Detail
}

// StartAgent starts an agent and waits until it runs and its host is enrolled.
func StartAgent(t testing.TB, srv *Server, o AgentOptions) *Agent {
	t.Helper()
	var raw [4]byte
	_, _ = rand.Read(raw[:])
	a := &Agent{MachineID: "e2e-" + o.Name + "-" + hex.EncodeToString(raw[:]), State: filepath.Join(t.TempDir(), "state"), srv: srv,
		seen: map[string]time.Time{}, details: map[string]*Detail{}}
	args := []string{"agent", "run", "--server", srv.URL, "--ca-pin", srv.Pin, "--enroll-secret", EnrollSecret,
		"--state", a.State, "--machine-id", a.MachineID, "--log-level", "info"}
	if len(o.Only) > 0 {
		args = append(args, "--only", strings.Join(o.Only, ","))
	}
	for _, r := range o.FileRoots {
		args = append(args, "--files-root", r)
	}
	for _, r := range o.Rules {
		args = append(args, "--rules", r)
	}
	canary := ""
	if len(o.Only) == 0 || slices.Contains(o.Only, "process") {
		canary = a.canary(t)
		args = append(args, "--rules", canary+".yml")
	}
	args = append(args, o.Args...)
	var cmd *exec.Cmd
	if o.Netns != nil {
		hostname := o.Hostname
		if hostname == "" {
			hostname = o.Name
		}
		cmd = exec.Command("ip", append([]string{"netns", "exec", o.Netns.Name, "unshare", "--uts", "--", "sh", "-c",
			`hostname "$0" && exec "$@"`, hostname, Binary(t)}, args...)...)
	} else {
		cmd = exec.Command(Binary(t), args...)
	}
	a.Proc = rdservers.StartCmd(t, cmd)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("agent %s's log (last lines):\n%s", o.Name, LastLines(a.Proc.Output(), 40))
		}
	})
	WaitFor(t, 90*time.Second, "agent "+o.Name+" enrolled", func() bool {
		if a.Proc.Exited() {
			t.Fatalf("agent %s exited:\n%s", o.Name, a.Proc.Output())
		}
		if !strings.Contains(a.Proc.Output(), "agent starting") {
			return false
		}
		h, err := srv.HostByMachineID(a.MachineID)
		a.HostID = h.ID
		return err == nil && h.ID != ""
	})
	if canary != "" {
		// The agent is live once a process it sees has made a finding the server stored.
		start := time.Now()
		if out, err := exec.Command(canary, "0.5").CombinedOutput(); err != nil {
			t.Fatalf("canary: %v %s", err, out)
		}
		got := a.Await(t, start, 60*time.Second, "agent "+o.Name+"'s canary finding", Rule(canaryRuleID, nil))
		t.Logf("agent %s live: its canary's finding stored %d ms after the canary started", o.Name, got.Latency.Milliseconds())
	}
	return a
}

const canaryRuleID = "0e2e0000-0000-4000-8000-0000000ca7a1"

// canary writes an executable that only this agent's canary rule names (a copy of sleep, run
// for half a second) and the rule, and returns the executable's path (the rule is that path
// with .yml).
func (a *Agent) canary(t testing.TB) string {
	t.Helper()
	src, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	exe := rdservers.CopyExe(t, src, filepath.Join(t.TempDir(), "vigil-canary-"+a.MachineID))
	rule := "title: Scenario agent canary\nid: " + canaryRuleID + "\nlevel: informational\nlogsource: {category: process_creation}\n" +
		"detection:\n  sel: {Image: '" + exe + "'}\n  condition: sel\n"
	if err := os.WriteFile(exe+".yml", []byte(rule), 0o644); err != nil {
		t.Fatal(err)
	}
	return exe
}

// Caught is a finding a scenario waited for: Latency is from the scenario's step to the
// server's commit of the finding (its received time: the admin API lists it from then on);
// Listed is when the test's polling of the API first listed it.
type Caught struct {
	*Detail
	Latency time.Duration
	Listed  time.Time
}

// Await waits up to d for a finding of the agent's host that match accepts, polling the admin
// API, and returns it with its latency from start.
func (a *Agent) Await(t testing.TB, start time.Time, d time.Duration, what string, match func(*Detail) bool) Caught {
	t.Helper()
	var got Caught
	defer func() {
		if got.Detail == nil {
			ds, _ := a.Poll()
			var all []string
			for _, det := range ds {
				all = append(all, Describe(det))
			}
			t.Logf("the host's %d findings:\n  %s", len(ds), strings.Join(all, "\n  "))
		}
	}()
	WaitFor(t, d, what, func() bool {
		ds, err := a.Poll()
		if err != nil {
			t.Logf("polling findings: %v", err)
			return false
		}
		for _, det := range ds {
			if match(det) {
				a.mu.Lock()
				got = Caught{Detail: det, Latency: det.Finding.Received.Sub(start), Listed: a.seen[det.Finding.ID]}
				a.mu.Unlock()
				return true
			}
		}
		return false
	})
	return got
}

// Poll lists the host's findings (its own and the fleet findings naming it), reads the
// evidence of those not seen before, and returns them all.
func (a *Agent) Poll() ([]*Detail, error) {
	fs, err := a.srv.Findings(url.Values{"host": {a.HostID}})
	now := time.Now()
	if err != nil {
		return nil, err
	}
	out := make([]*Detail, 0, len(fs))
	for _, f := range fs {
		a.mu.Lock()
		if _, ok := a.seen[f.ID]; !ok {
			a.seen[f.ID] = now
		}
		det := a.details[f.ID]
		a.mu.Unlock()
		if det == nil || det.Finding.Count != f.Count || len(det.Finding.Hosts) != len(f.Hosts) {
			// New, or a fleet finding whose host list grew.
			if det, err = a.srv.Detail(f.ID); err != nil {
				return nil, err
			}
			a.mu.Lock()
			a.details[f.ID] = det
			a.mu.Unlock()
		}
		out = append(out, det)
	}
	return out, nil
}

// Rule matches a finding by rule name (or id) and, when evidence is given, one of its evidence
// events.
func Rule(name string, evidence func(Event) bool) func(*Detail) bool {
	return func(d *Detail) bool {
		if d.Finding.RuleName != name && d.Finding.RuleID != name {
			return false
		}
		if evidence == nil {
			return true
		}
		for _, ev := range d.Evidence {
			if evidence(ev) {
				return true
			}
		}
		return false
	}
}

// Describe is a finding in one line with its evidence, for logs and failures.
func Describe(d *Detail) string {
	var b strings.Builder
	b.WriteString(d.Finding.Level + " " + d.Finding.RuleName + " (" + d.Finding.Title + ")")
	for _, ev := range d.Evidence {
		b.WriteString("\n    " + ev.Category + ":")
		for _, k := range []string{"Image", "CommandLine", "CurrentDirectory", "TargetFilename", "ImageLoaded", "DestinationIp", "DestinationHostname", "DestinationPort", "RemoteDesktopProtocol"} {
			if v := ev.Str(k); v != "" {
				b.WriteString(" " + k + "=" + v)
			}
		}
	}
	return b.String()
}
