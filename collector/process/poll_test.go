package process

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/vigilhq/vigil/internal/event"
)

// fakeLister is a scripted process table.
type fakeLister struct {
	procs map[int]pidStamp
	infos map[int]*procInfo
	reads map[int]int
}

func (f *fakeLister) list(context.Context) ([]pidStamp, error) {
	out := make([]pidStamp, 0, len(f.procs))
	for _, p := range f.procs {
		out = append(out, p)
	}
	return out, nil
}

func (f *fakeLister) info(_ context.Context, pid int) (*procInfo, error) {
	f.reads[pid]++
	i, ok := f.infos[pid]
	if !ok {
		return nil, fmt.Errorf("process %d: %w", pid, os.ErrNotExist)
	}
	if i == nil {
		return nil, errKernelThread
	}
	c := *i
	return &c, nil
}

func (f *fakeLister) add(pid, ppid int, start int64, image string) {
	f.procs[pid] = pidStamp{PID: pid, Start: start}
	f.infos[pid] = &procInfo{PID: pid, PPID: ppid, Image: image, CommandLine: image + " --flag"}
}

func TestPollerDiff(t *testing.T) {
	f := &fakeLister{procs: map[int]pidStamp{}, infos: map[int]*procInfo{}, reads: map[int]int{}}
	f.add(1, 0, 1, "/sbin/init")
	f.add(50, 1, 5, "/usr/bin/bash")
	f.procs[2] = pidStamp{PID: 2, Start: 1}
	f.infos[2] = nil // kernel thread
	p := newPoller(f, event.Linux, func(i *procInfo) { i.Hashes = "SHA256=X" })
	var evs []*event.Event
	emit := func(e *event.Event) { evs = append(evs, e) }
	ctx := context.Background()

	if err := p.poll(ctx, emit, true); err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Fields["ProcessId"] != 1 || evs[1].Fields["ParentImage"] != "/sbin/init" || evs[1].Fields["Snapshot"] != true || evs[1].Fields["Hashes"] != "SHA256=X" {
		t.Fatalf("snapshot: %v", fieldsOf(evs))
	}

	// A parent and its child appear together: both reported, parent first, child resolves it.
	evs = nil
	f.add(60, 50, 9, "/opt/AnyDesk/anydesk")
	f.add(61, 60, 10, "/usr/bin/xdotool")
	if err := p.poll(ctx, emit, false); err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Fields["ProcessId"] != 60 || evs[1].Fields["ParentImage"] != "/opt/AnyDesk/anydesk" || evs[1].Fields["ParentCommandLine"] != "/opt/AnyDesk/anydesk --flag" || evs[1].Fields["Snapshot"] != nil {
		t.Fatalf("new processes: %v", fieldsOf(evs))
	}

	// Nothing changed: nothing reported, nothing read again (the kernel thread included).
	evs = nil
	reads := f.reads[2]
	if err := p.poll(ctx, emit, false); err != nil || len(evs) != 0 {
		t.Fatalf("steady state: %v %v", fieldsOf(evs), err)
	}
	if f.reads[2] != reads || f.reads[60] != 1 {
		t.Errorf("re-read known processes: %v", f.reads)
	}

	// 61 exits; 60's pid is reused by another process (new start time).
	evs = nil
	delete(f.procs, 61)
	f.add(60, 1, 20, "/usr/bin/sleep")
	if err := p.poll(ctx, emit, false); err != nil {
		t.Fatal(err)
	}
	var terms, creates []map[string]any
	for _, e := range evs {
		if e.Category == event.ProcessTermination {
			terms = append(terms, e.Fields)
		} else {
			creates = append(creates, e.Fields)
		}
	}
	if len(terms) != 2 || len(creates) != 1 || creates[0]["Image"] != "/usr/bin/sleep" {
		t.Fatalf("exit and reuse: %v", fieldsOf(evs))
	}
	for _, tf := range terms {
		if tf["ProcessId"] == 60 && tf["Image"] != "/opt/AnyDesk/anydesk" {
			t.Errorf("termination of the reused pid reports %v", tf)
		}
	}

	// A child first seen as an exact copy of its parent (between fork and exec) is read again
	// at the next poll and reported as what it exec'd into.
	evs = nil
	f.procs[80] = pidStamp{PID: 80, Start: 40}
	f.infos[80] = &procInfo{PID: 80, PPID: 50, Image: "/usr/bin/bash", CommandLine: "/usr/bin/bash --flag"}
	if err := p.poll(ctx, emit, false); err != nil || len(evs) != 0 {
		t.Fatalf("forked copy reported at once: %v %v", fieldsOf(evs), err)
	}
	f.infos[80] = &procInfo{PID: 80, PPID: 50, Image: "/usr/bin/rclone", CommandLine: "rclone copy"}
	if err := p.poll(ctx, emit, false); err != nil || len(evs) != 1 || evs[0].Fields["Image"] != "/usr/bin/rclone" || evs[0].Fields["ParentImage"] != "/usr/bin/bash" {
		t.Fatalf("after exec: %v %v", fieldsOf(evs), err)
	}
	// One that stays a copy (a forked worker) is reported at its second sighting; one that
	// vanishes while pending was never reported, so its end is not either.
	evs = nil
	f.procs[81] = pidStamp{PID: 81, Start: 41}
	f.infos[81] = &procInfo{PID: 81, PPID: 50, Image: "/usr/bin/bash", CommandLine: "/usr/bin/bash --flag"}
	f.procs[82] = pidStamp{PID: 82, Start: 42}
	f.infos[82] = &procInfo{PID: 82, PPID: 50, Image: "/usr/bin/bash", CommandLine: "/usr/bin/bash --flag"}
	if err := p.poll(ctx, emit, false); err != nil || len(evs) != 0 {
		t.Fatalf("forked copies: %v %v", fieldsOf(evs), err)
	}
	delete(f.procs, 82)
	if err := p.poll(ctx, emit, false); err != nil || len(evs) != 1 || evs[0].Fields["ProcessId"] != 81 || evs[0].Category != event.ProcessCreation {
		t.Fatalf("forked worker: %v %v", fieldsOf(evs), err)
	}

	// A process gone between listing and reading is skipped and tried again next poll.
	evs = nil
	f.procs[70] = pidStamp{PID: 70, Start: 30}
	if err := p.poll(ctx, emit, false); err != nil || len(evs) != 0 {
		t.Fatalf("vanished: %v %v", fieldsOf(evs), err)
	}
	f.add(70, 1, 30, "/bin/late")
	if err := p.poll(ctx, emit, false); err != nil || len(evs) != 1 {
		t.Fatalf("late read: %v %v", fieldsOf(evs), err)
	}
}

func fieldsOf(evs []*event.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, fmt.Sprintf("%s %v", e.Category, e.Fields))
	}
	return out
}
