package process

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/vigilhq/vigil/internal/event"
)

func TestPidTable(t *testing.T) {
	root := t.TempDir()
	bin := filepath.Join(root, "anydesk") // inside the fixture tree, so it is hashed
	if err := os.WriteFile(bin, []byte("anydesk bytes"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeProc(t, root, "1", "Name:\tinit\nPPid:\t0\nUid:\t0\t0\t0\t0\n", "/sbin/init\x00", "", "/")
	writeProc(t, root, "100", "Name:\tanydesk\nPPid:\t1\nUid:\t0\t0\t0\t0\n", "anydesk\x00--service\x00", bin, "/")
	s := New(Config{ProcRoot: root})
	tab := newPidTable(s)
	var evs []*event.Event
	emit := func(e *event.Event) { evs = append(evs, e) }
	if err := tab.scan(context.Background(), emit, true); err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[1].Fields["Image"] != bin || evs[1].Fields["ParentImage"] != "/sbin/init" || evs[1].Fields["Snapshot"] != true {
		t.Fatalf("snapshot: %v", fieldsOf(evs))
	}
	if evs[1].Fields["Hashes"] == nil {
		t.Errorf("snapshot without hash: %v", evs[1].Fields)
	}
	ts := monotonicNow() + 1 // events after the scan
	exec := func(pid, statusPPid int, image string) record {
		ts++
		return record{kind: procEventExec, ts: ts, pid: pid, info: &procInfo{PID: pid, PPID: statusPPid, Image: image, CommandLine: image}}
	}
	fork := func(pid, ppid int) record {
		ts++
		return record{kind: procEventFork, ts: ts, pid: pid, ppid: ppid}
	}
	exit := func(pid int) record {
		ts++
		return record{kind: procEventExit, ts: ts, pid: pid}
	}
	last := func() map[string]any { return evs[len(evs)-1].Fields }

	// anydesk forks a child that execs xdotool: parent from the table.
	evs = nil
	tab.apply(fork(200, 100), emit)
	if len(evs) != 0 {
		t.Fatalf("fork emitted %v", fieldsOf(evs))
	}
	tab.apply(exec(200, 100, "/usr/bin/xdotool"), emit)
	if f := last(); f["ParentProcessId"] != 100 || f["ParentImage"] != bin || f["ParentCommandLine"] != "anydesk --service" || f["Image"] != "/usr/bin/xdotool" {
		t.Fatalf("child of anydesk: %v", f)
	}

	// xdotool forks 300 and exits before 300 execs: procfs names init as the parent by then,
	// the fork-time copy still knows xdotool.
	tab.apply(fork(300, 200), emit)
	tab.apply(exit(200), emit)
	if f := last(); evs[len(evs)-1].Category != event.ProcessTermination || f["ProcessId"] != 200 || f["ParentImage"] != bin {
		t.Fatalf("exit of 200: %v", fieldsOf(evs))
	}
	tab.apply(exec(300, 1, "/usr/bin/curl"), emit)
	if f := last(); f["ParentProcessId"] != 200 || f["ParentImage"] != "/usr/bin/xdotool" {
		t.Fatalf("orphan exec: %v", f)
	}

	// pid reuse: 300 forks 400 and exits; an unrelated process takes pid 300; then 400 execs.
	tab.apply(fork(400, 300), emit)
	tab.apply(exit(300), emit)
	tab.apply(fork(300, 1), emit)
	tab.apply(exec(300, 1, "/usr/bin/unrelated"), emit)
	tab.apply(exec(400, 1, "/usr/bin/tar"), emit)
	if f := last(); f["ParentProcessId"] != 300 || f["ParentImage"] != "/usr/bin/curl" {
		t.Fatalf("reused parent pid: %v", f)
	}

	// A fork that never execs and exits is not reported; neither is an unknown pid's exit.
	n := len(evs)
	tab.apply(fork(500, 400), emit)
	tab.apply(exit(500), emit)
	tab.apply(exit(999), emit)
	if len(evs) != n {
		t.Fatalf("fork-only child reported: %v", fieldsOf(evs[n:]))
	}

	// A process gone before procfs was read is reported with its id and its parent's fields.
	tab.apply(fork(600, 100), emit)
	tab.apply(record{kind: procEventExec, ts: ts + 1, pid: 600, info: &procInfo{PID: 600}}, emit)
	tab.apply(record{kind: procEventExit, ts: ts + 2, pid: 600}, emit)
	ts += 2
	if len(evs) != n+2 || evs[n].Fields["ParentImage"] != bin || evs[n].Fields["ParentProcessId"] != 100 || evs[n].Fields["Image"] != nil {
		t.Fatalf("unreadable process: %v", fieldsOf(evs[n:]))
	}
	n = len(evs)

	// Events older than a scan's read of the same pid are stale (the scan saw a later state).
	tab.apply(record{kind: procEventExec, ts: 1, pid: 1, info: &procInfo{PID: 1, Image: "/sbin/init", CommandLine: "/sbin/init"}}, emit)
	tab.apply(record{kind: procEventFork, ts: 1, pid: 1, ppid: 0}, emit)
	tab.apply(record{kind: procEventExit, ts: 1, pid: 1}, emit)
	if len(evs) != n {
		t.Fatalf("stale events applied: %v", fieldsOf(evs[n:]))
	}

	// `sh -c "exec x"`: the read for the first exec happened after the second exec, so it
	// already saw x; the second exec is not reported again. A later re-exec is.
	n = len(evs)
	tab.apply(fork(800, 100), emit)
	first := exec(800, 100, "/usr/bin/x")
	second := exec(800, 100, "/usr/bin/x")
	if !(first.ts < second.ts) {
		t.Fatal("test clock")
	}
	first.readFrom, first.readTo = second.ts-1, second.ts+1 // the second exec happened during the first read
	tab.apply(first, emit)
	tab.apply(second, emit)
	if len(evs) != n+1 {
		t.Fatalf("exec chain reported %d times: %v", len(evs)-n, fieldsOf(evs[n:]))
	}
	// A different image read after an exec that happened during the previous read is reported.
	mixed := exec(800, 100, "/usr/bin/w")
	mixed.readFrom, mixed.readTo = mixed.ts+1, mixed.ts+2
	prev := tab.procs[800]
	prev.readTo = mixed.ts + 1
	tab.apply(mixed, emit)
	if len(evs) != n+2 || last()["Image"] != "/usr/bin/w" {
		t.Fatalf("exec during the previous read with another image: %v", fieldsOf(evs[n:]))
	}
	n++
	third := exec(800, 100, "/usr/bin/y")
	third.readFrom, third.readTo = third.ts+1, third.ts+2
	tab.apply(third, emit)
	if len(evs) != n+2 || last()["Image"] != "/usr/bin/y" {
		t.Fatalf("later re-exec: %v", fieldsOf(evs[n:]))
	}
	// Its exit is applied.
	tab.apply(exit(800), emit)
	if len(evs) != n+3 || evs[len(evs)-1].Category != event.ProcessTermination {
		t.Fatalf("exit after exec chain: %v", fieldsOf(evs[n:]))
	}
	// An exec read that came after the process exited (too short to read): its exit, older
	// than the read, still ends it.
	late := exec(900, 100, "")
	late.info = &procInfo{PID: 900}
	late.readFrom, late.readTo = late.ts+10, late.ts+11
	tab.apply(late, emit)
	tab.apply(record{kind: procEventExit, ts: late.ts + 1, pid: 900}, emit)
	if _, ok := tab.procs[900]; ok || len(evs) != n+5 {
		t.Fatalf("short process: table %v events %v", tab.procs[900], fieldsOf(evs[n:]))
	}

	// Lost events: a resync ends what procfs no longer has and reports what the table lacked.
	writeProc(t, root, "700", "Name:\tvnc\nPPid:\t100\nUid:\t0\t0\t0\t0\n", "/usr/bin/x11vnc\x00-forever\x00", "", "/")
	evs = nil
	tab.apply(record{kind: 0}, emit)
	var ended, started []int
	for _, e := range evs {
		if e.Category == event.ProcessTermination {
			ended = append(ended, e.Fields["ProcessId"].(int))
		} else {
			started = append(started, e.Fields["ProcessId"].(int))
			if e.Fields["ParentImage"] != bin || e.Fields["Snapshot"] != nil {
				t.Errorf("resync creation: %v", e.Fields)
			}
		}
	}
	if len(started) != 1 || started[0] != 700 || len(ended) != 2 { // 300 (unrelated) and 400 (tar)
		t.Fatalf("resync: started %v ended %v", started, ended)
	}
}
