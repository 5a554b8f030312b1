package process

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/vigilhq/vigil/collector"
	"github.com/vigilhq/vigil/internal/event"
)

// pidStamp is one listed process: its id and a start stamp that differs when the id is reused.
type pidStamp struct {
	PID   int
	Start int64
}

// procLister is what the polling path needs from the OS.
type procLister interface {
	// list returns the running processes.
	list(ctx context.Context) ([]pidStamp, error)
	// info reads one process's details; an error wrapping os.ErrNotExist means it is gone.
	info(ctx context.Context, pid int) (*procInfo, error)
}

// poller lists processes periodically and reports the differences. It keeps one entry per live
// process (bounded by the process table), so each poll costs one listing plus one start-stamp
// read per process, and only new processes are read in full.
type poller struct {
	lister  procLister
	product string
	hash    func(*procInfo)
	known   map[int]*polledProc
	seen    map[int]bool // scratch, reused across polls
}

type polledProc struct {
	start int64
	info  *procInfo
	// pending: first read as an exact copy of its parent, which is what a child looks like
	// between fork and exec; it is read again at the next poll before it is reported.
	pending bool
}

func newPoller(l procLister, product string, hash func(*procInfo)) *poller {
	return &poller{lister: l, product: product, hash: hash, known: make(map[int]*polledProc), seen: make(map[int]bool)}
}

// poll lists processes once and emits process_creation for new ones (with Snapshot set when
// snapshot is true) and process_termination for the ones gone since the last poll.
func (p *poller) poll(ctx context.Context, emit collector.Emit, snapshot bool) error {
	list, err := p.lister.list(ctx)
	if err != nil {
		return fmt.Errorf("list processes: %w", err)
	}
	clear(p.seen)
	var fresh []pidStamp
	for _, ps := range list {
		p.seen[ps.PID] = true
		old, ok := p.known[ps.PID]
		if ok && old.start == ps.Start {
			if old.pending {
				fresh = append(fresh, ps)
			}
			continue
		}
		if ok { // the pid was reused: the old process ended between two polls
			p.ended(old, emit)
			delete(p.known, ps.PID)
		}
		fresh = append(fresh, ps)
	}
	for pid, old := range p.known {
		if !p.seen[pid] {
			p.ended(old, emit)
			delete(p.known, pid)
		}
	}
	// Read the new ones first, then emit oldest first, so a parent and child that both appeared
	// since the last poll resolve each other.
	sort.Slice(fresh, func(i, j int) bool {
		if fresh[i].Start != fresh[j].Start {
			return fresh[i].Start < fresh[j].Start
		}
		return fresh[i].PID < fresh[j].PID
	})
	added := fresh[:0]
	for _, ps := range fresh {
		if ctx.Err() != nil {
			return nil
		}
		prev := p.known[ps.PID] // non-nil only for a pending entry
		info, err := p.lister.info(ctx, ps.PID)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) && !errors.Is(err, errUnreadable) {
				// Not reportable (a kernel thread): remember it so it is not read again.
				p.known[ps.PID] = &polledProc{start: ps.Start}
			}
			continue
		}
		if prev == nil && !snapshot && p.looksForked(info) {
			p.known[ps.PID] = &polledProc{start: ps.Start, info: info, pending: true}
			continue
		}
		if p.hash != nil {
			p.hash(info)
		}
		p.known[ps.PID] = &polledProc{start: ps.Start, info: info}
		added = append(added, ps)
	}
	for _, ps := range added {
		info := p.known[ps.PID].info
		emit(newEvent(event.ProcessCreation, p.product, info, p.parentOf(info), snapshot))
	}
	return nil
}

// looksForked tells whether a new process is an exact copy of its parent (image and command
// line), as a child is between fork and exec.
func (p *poller) looksForked(info *procInfo) bool {
	parent, ok := p.known[info.PPID]
	return ok && parent.info != nil && info.PPID != info.PID &&
		parent.info.Image == info.Image && parent.info.CommandLine == info.CommandLine
}

// ended reports a process that is gone (unless it was never reportable or never reported).
func (p *poller) ended(old *polledProc, emit collector.Emit) {
	if old.info != nil && !old.pending {
		emit(newEvent(event.ProcessTermination, p.product, old.info, p.parentOf(old.info), false))
	}
}

func (p *poller) parentOf(info *procInfo) *parentRef {
	if parent, ok := p.known[info.PPID]; ok && parent.info != nil && !parent.pending && info.PPID != info.PID {
		return &parentRef{Image: parent.info.Image, CommandLine: parent.info.CommandLine}
	}
	return nil
}

// runPoll is the polling Run: the first poll is the snapshot (or, with silent, only learns the
// running processes, when taking over from the connector), then one poll per interval.
func (s *Source) runPoll(ctx context.Context, emit collector.Emit, p *poller, silent bool) error {
	s.mode.Store(ModePoll)
	first := emit
	if silent {
		first = func(*event.Event) {}
	}
	if err := p.poll(ctx, first, true); err != nil {
		return err
	}
	loop := collector.Loop{What: "processes", Log: s.log, Interval: s.cfg.PollInterval, Pace: s.cfg.Pace}
	return loop.Run(ctx, func(ctx context.Context) (bool, error) { return false, p.poll(ctx, emit, false) })
}
