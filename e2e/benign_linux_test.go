package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/devworkload"
	"github.com/vigilhq/vigil/internal/rdservers"
	"github.com/vigilhq/vigil/policies"
)

// benignSteps are the workload's steps the agent must be seen to report (each by an
// informational rule on the step's command, run in the workload's home), so that the absence
// of findings above low proves something.
var benignSteps = []struct{ step, id, command string }{
	{"git", "0e2e0000-0000-4000-8000-0000000be001", "git clone"},
	{"go build", "0e2e0000-0000-4000-8000-0000000be002", "go build"},
	{"go test", "0e2e0000-0000-4000-8000-0000000be003", "go test"},
	{"tar", "0e2e0000-0000-4000-8000-0000000be004", "tar czf"},
	{"npm", "0e2e0000-0000-4000-8000-0000000be005", "npm install"},
	{"7z", "0e2e0000-0000-4000-8000-0000000be006", "7z x"},
	{"ssh localhost", "0e2e0000-0000-4000-8000-0000000be007", "git -C"},
}

// TestBenignDeveloperHour: a developer's hour, time-compressed, under an agent with every
// collector that applies here (processes, libraries, network, files in the home, removable
// media): local repositories created and cloned, a Go build and its tests, an npm install from
// a local package, a tarball of the build, a zip extracted with 7z, files edited, and ssh to a
// server on localhost. Nothing the workload does may raise a finding above low. Other processes
// on this machine (other tests) also raise findings on this agent's host: a finding is the
// workload's when one of its evidence events names the workload's home folder (a path, a
// command line, a working folder) or is the ssh server it started.
func TestBenignDeveloperHour(t *testing.T) {
	t.Parallel()
	// Every agent sees every process of the machine: a mass clone running beside the workload
	// would be counted with the workload's own clones.
	massClones.Lock()
	defer massClones.Unlock()
	NeedRoot(t, "the kernel's process connector and other processes' /proc/<pid>/maps")
	for _, tool := range []string{"git", "go", "npm", "tar", "7z", "ssh", "sshd"} {
		Need(t, tool)
	}
	home := devworkload.HomeLikeDir(t)
	rules := filepath.Join(t.TempDir(), "benign-steps.yml")
	var b strings.Builder
	for i, s := range benignSteps {
		if i > 0 {
			b.WriteString("---\n")
		}
		fmt.Fprintf(&b, "title: 'Scenario: the workload step %s was seen'\nid: %s\nlevel: informational\nlogsource: {category: process_creation}\n"+
			"detection:\n  sel:\n    CommandLine|contains: '%s'\n  home:\n    - CurrentDirectory|startswith: '%s'\n    - CommandLine|contains: '%s'\n  condition: sel and home\n",
			s.step, s.id, s.command, home, home)
	}
	if err := os.WriteFile(rules, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	sshd := rdservers.StartSSHD(t)
	srv := StartServer(t, ServerOptions{})
	agent := StartAgent(t, srv, AgentOptions{Name: "developer", Only: []string{"process", "imageload", "netconn", "files", "media"},
		FileRoots: []string{home}, Rules: []string{rules}})

	w := devworkload.New(t, home)
	w.SSH = sshd
	start := time.Now()
	w.Run()
	Record(t, "benign hour", "the workload ran (wall time)", time.Since(start), strings.Join(w.Ran, ", "))

	// Each step was seen.
	for _, s := range benignSteps {
		if !contains(w.Ran, s.step) {
			continue
		}
		agent.Await(t, start, 60*time.Second, "the agent's report of the workload's "+s.step, Rule(s.id, nil))
	}
	// What the workload left pending (files settling, sockets listed late) has arrived.
	time.Sleep(10 * time.Second)
	ds, err := agent.Poll()
	if err != nil {
		t.Fatal(err)
	}
	ours := func(ev Event) bool {
		for k := range ev.Fields {
			if strings.Contains(ev.Str(k), home) {
				return true
			}
		}
		// (Not this test process's children: the scenarios running beside this one are too.)
		return strings.Contains(ev.Str("CommandLine"), sshd.Conf)
	}
	foreign := map[string][]*Detail{}
	mine := 0
	for _, d := range ds {
		workload := false
		for _, ev := range d.Evidence {
			workload = workload || ours(ev)
		}
		switch {
		case workload && policies.LevelRank(d.Finding.Level) > policies.LevelRank("low"):
			t.Errorf("the benign workload raised %s", Describe(d))
		case workload:
			mine++
			if !strings.HasPrefix(d.Finding.Title, "Scenario") {
				t.Logf("workload finding at or below low (allowed): %s", Describe(d))
			}
		case d.Finding.Source == "agent":
			foreign[d.Finding.RuleName] = append(foreign[d.Finding.RuleName], d)
		}
	}
	names := make([]string, 0, len(foreign))
	for n := range foreign {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t.Logf("%d finding(s) from other processes on this machine, not the workload's; the first: %s", len(foreign[n]), Describe(foreign[n][0]))
	}
	Record(t, "benign hour", fmt.Sprintf("%d workload findings, none above low; %d from other processes", mine, len(ds)-mine), 0, "")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
