package process

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sort"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigilhq/vigil/collector"
	"github.com/vigilhq/vigil/internal/event"
)

// ackTimeout is how long Run waits for the kernel to acknowledge the connector subscription.
// The kernel ignores requests from outside the initial user and PID namespaces without an answer,
// so no ack means no events: Run then polls.
const ackTimeout = 2 * time.Second

// sweepInterval is how often the pid table is checked against procfs for exits the connector
// could not report (events lost in an overrun).
const sweepInterval = 5 * time.Minute

func (s *Source) procfs() procfs {
	return procfs{root: s.cfg.ProcRoot, maxCmd: s.cfg.MaxCommandLine, users: s.users, plain: !isProcMount(s.cfg.ProcRoot)}
}

// isProcMount tells whether dir is a mounted procfs (the live /proc, or a host's /proc mounted
// into a container), whose exe links reach the executables themselves.
func isProcMount(dir string) bool {
	var st unix.Statfs_t
	return unix.Statfs(dir, &st) == nil && st.Type == unix.PROC_SUPER_MAGIC
}

func (s *Source) newLinuxPoller() *poller {
	fs := s.procfs()
	l := &gopsLister{procRoot: s.cfg.ProcRoot, details: func(_ context.Context, pid int) (*procInfo, error) {
		info, exePath, err := fs.read(pid)
		if err != nil {
			return nil, err
		}
		s.hashExe(info, exePath)
		return info, nil
	}}
	return newPoller(l, event.Linux, nil)
}

// hashExe hashes a procfs process's executable through its exe link.
func (s *Source) hashExe(info *procInfo, exePath string) {
	if exePath == "" || info.Image == "" {
		return
	}
	s.identity(info, exePath)
	sum, err := s.hasher.hashVia(info.Image, exePath)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			s.log.Debug("executable not hashed", "image", info.Image, "error", err)
		}
		return
	}
	info.Hashes = sum
}

func (s *Source) snapshot(ctx context.Context, emit collector.Emit) error {
	if s.cfg.Poll {
		return s.newLinuxPoller().poll(ctx, emit, true)
	}
	t := newPidTable(s)
	return t.scan(ctx, emit, true)
}

func (s *Source) run(ctx context.Context, emit collector.Emit) error {
	if s.cfg.Poll {
		return s.runPoll(ctx, emit, s.newLinuxPoller(), false)
	}
	c, err := openConnector()
	if err == nil {
		err = s.runConnector(ctx, emit, c)
		if !errors.Is(err, errConnectorRefused) || ctx.Err() != nil {
			return err
		}
	}
	s.log.Warn("kernel process-events connector not permitted; falling back to polling, so processes shorter than the poll interval are missed",
		"error", err, "poll_interval", s.cfg.PollInterval)
	return s.runPoll(ctx, emit, s.newLinuxPoller(), false)
}

// record is one process event handed from the socket reader to the table.
type record struct {
	kind     uint32 // procEventFork, procEventExec, procEventExit, or 0 for an overrun
	ts       int64  // kernel monotonic ns
	readFrom int64  // exec: monotonic ns just before procfs was read
	readTo   int64  // exec: monotonic ns just after
	pid      int
	ppid     int       // fork: the parent
	info     *procInfo // exec: read from procfs as soon as the event arrived
	hashKey  fileKey
	hashFile *os.File // exec: the executable, opened for hashing on a cache miss
}

// errConnectorRefused wraps the reasons the kernel did not accept the subscription.
var errConnectorRefused = errors.New("process connector subscription refused")

// runConnector subscribes, takes the snapshot, then applies events until ctx ends. When the
// subscription is refused it returns an error wrapping errConnectorRefused without emitting
// anything.
func (s *Source) runConnector(ctx context.Context, emit collector.Emit, c *connector) error {
	recs := make(chan record, 1024)
	acks := make(chan uint32, 1)
	quit := make(chan struct{})
	readerDone := make(chan struct{})
	seq, err := c.control(procCnMcastListen)
	if err != nil {
		unix.Close(c.fd)
		return fmt.Errorf("%w: %w", errConnectorRefused, err)
	}
	go func() {
		defer close(readerDone)
		s.readConnector(c, seq, recs, acks, quit)
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		close(quit)
		<-readerDone // within recvTimeout
		c.close()
		for {
			select {
			case r := <-recs:
				if r.hashFile != nil {
					r.hashFile.Close()
				}
			default:
				return
			}
		}
	}
	select {
	case e := <-acks:
		if e != 0 {
			stop()
			return fmt.Errorf("%w: %w", errConnectorRefused, unix.Errno(e))
		}
	case <-time.After(ackTimeout):
		stop()
		return fmt.Errorf("%w: no acknowledgement from the kernel within %s (not in the initial user and PID namespaces?)", errConnectorRefused, ackTimeout)
	case <-ctx.Done():
		stop()
		return nil
	}
	defer stop()
	s.mode.Store(ModeConnector)
	s.log.Debug("process events from the kernel connector")

	t := newPidTable(s)
	if err := t.scan(ctx, emit, true); err != nil {
		return err
	}
	sweep := time.NewTicker(sweepInterval)
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-readerDone:
			if ctx.Err() != nil {
				return nil
			}
			for len(recs) > 0 {
				t.apply(<-recs, emit)
			}
			// The socket failed under us: poll from here, without reporting again what the
			// snapshot and the events already did.
			s.log.Warn("process connector stopped; falling back to polling", "poll_interval", s.cfg.PollInterval)
			return s.runPoll(ctx, emit, s.newLinuxPoller(), true)
		case r := <-recs:
			t.apply(r, emit)
		case <-sweep.C:
			if err := t.scan(ctx, emit, false); err != nil {
				s.log.Warn("process table sweep failed", "error", err)
			}
		}
	}
}

// readConnector reads the socket until it is closed. Exec events are read from procfs right
// away, before a short-lived process is gone.
func (s *Source) readConnector(c *connector, seq uint32, recs chan<- record, acks chan<- uint32, quit <-chan struct{}) {
	runtime.LockOSThread() // this goroutine blocks in recvfrom on its own thread; never unlocked, so the thread ends with it
	fs := s.procfs()
	buf := make([]byte, 64<<10)
	lost := 0
	send := func(r record) {
		select {
		case recs <- r:
		case <-quit:
			if r.hashFile != nil {
				r.hashFile.Close()
			}
		}
	}
	for {
		select {
		case <-quit:
			return
		default:
		}
		n, err := c.recv(buf)
		if errors.Is(err, errRecvTimeout) {
			continue
		}
		if errors.Is(err, errOverrun) {
			lost++
			if lost == 1 || lost%100 == 0 {
				s.log.Warn("process events lost (kernel socket buffer overrun); resynchronising from procfs", "overruns", lost)
			}
			send(record{kind: 0})
			continue
		}
		if err != nil {
			s.log.Warn("process connector receive failed", "error", err)
			return
		}
		perr := parseConnector(buf[:n], func(ev procEvent) {
			switch ev.What {
			case procEventNone:
				if ev.Ack == seq+1 {
					select {
					case acks <- ev.Err:
					default:
					}
				}
			case procEventFork:
				if ev.Pid != ev.Tgid {
					return // a new thread, not a process
				}
				send(record{kind: procEventFork, ts: int64(ev.Timestamp), pid: ev.Tgid, ppid: ev.ParentTgid})
			case procEventExec:
				r := record{kind: procEventExec, ts: int64(ev.Timestamp), pid: ev.Tgid, readFrom: monotonicNow()}
				info, exePath, err := readSettled(fs, ev.Tgid)
				r.readTo = monotonicNow()
				if err != nil {
					// Gone before it could be read: still track it so its exit is matched.
					info = &procInfo{PID: ev.Tgid}
				}
				if exePath != "" && info.Image != "" {
					s.identity(info, exePath)
					sum, key, f, herr := s.hasher.prepare(info.Image, exePath)
					info.Hashes, r.hashKey, r.hashFile = sum, key, f
					if herr != nil && !errors.Is(herr, os.ErrNotExist) {
						s.log.Debug("executable not hashed", "image", info.Image, "error", herr)
					}
				}
				r.info = info
				send(r)
			case procEventExit:
				if ev.Pid != ev.Tgid {
					return // a thread ended
				}
				send(record{kind: procEventExit, ts: int64(ev.Timestamp), pid: ev.Tgid})
			}
		})
		if perr != nil {
			s.log.Debug("malformed connector message skipped", "error", perr)
		}
	}
}

// tracked is one process in the pid table.
type tracked struct {
	info      *procInfo
	seq       uint64    // unique per table entry, to tell a live parent from a reused pid
	parentSeq uint64    // the parent's entry at fork (or snapshot) time
	parent    parentRef // the parent's image and command line at that time
	reported  bool      // a process_creation was emitted (so its exit is reported)
	// When procfs was read for this entry (monotonic ns, the clock of event timestamps): events
	// older than the read may already be reflected in what was read.
	readFrom, readTo int64
	scanned          bool // read by a scan (not on its own exec)
}

// pidTable follows the live processes from connector events. Parent details are copied into a
// child at fork, so a child whose parent has exited by the time it execs still gets ParentImage.
type pidTable struct {
	s     *Source
	fs    procfs
	procs map[int]*tracked
	seq   uint64
}

func newPidTable(s *Source) *pidTable {
	return &pidTable{s: s, fs: s.procfs(), procs: make(map[int]*tracked)}
}

func (t *pidTable) next() uint64 { t.seq++; return t.seq }

// scan reads procfs. With snapshot it reports every process as process_creation with Snapshot
// set; without (a resync after lost events, or the periodic sweep), it reports processes the
// table did not know as new and ends the ones that are gone.
func (t *pidTable) scan(ctx context.Context, emit collector.Emit, snapshot bool) error {
	pids, err := t.fs.pids()
	if err != nil {
		return err
	}
	sort.Ints(pids)
	live := make(map[int]bool, len(pids))
	var added []*tracked
	for _, pid := range pids {
		if ctx.Err() != nil {
			return nil
		}
		live[pid] = true
		if !snapshot {
			if _, ok := t.procs[pid]; ok {
				continue
			}
		}
		from := monotonicNow()
		info, exePath, err := t.fs.read(pid)
		to := monotonicNow()
		if err != nil {
			continue // exited meanwhile, or a kernel thread
		}
		t.s.hashExe(info, exePath)
		e := &tracked{info: info, seq: t.next(), reported: true, readFrom: from, readTo: to, scanned: true}
		t.procs[pid] = e
		added = append(added, e)
	}
	if !snapshot {
		for pid, e := range t.procs {
			if !live[pid] {
				delete(t.procs, pid)
				if e.reported {
					emit(newEvent(event.ProcessTermination, event.Linux, e.info, &e.parent, false))
				}
			}
		}
	}
	for _, e := range added {
		if p, ok := t.procs[e.info.PPID]; ok && e.info.PPID != e.info.PID {
			e.parentSeq = p.seq
			e.parent = parentRef{Image: p.info.Image, CommandLine: p.info.CommandLine}
		}
		emit(newEvent(event.ProcessCreation, event.Linux, e.info, &e.parent, snapshot))
	}
	return nil
}

// apply updates the table with one record and emits what it means.
func (t *pidTable) apply(r record, emit collector.Emit) {
	if r.kind == 0 { // events were lost: catch up from procfs
		if err := t.scan(context.Background(), emit, false); err != nil {
			t.s.log.Warn("process resync failed", "error", err)
		}
		return
	}
	cur := t.procs[r.pid]
	if cur != nil && t.stale(cur, r) {
		if r.hashFile != nil {
			r.hashFile.Close()
		}
		return
	}
	switch r.kind {
	case procEventFork:
		e := &tracked{seq: t.next(), info: &procInfo{PID: r.pid, PPID: r.ppid}}
		if p := t.procs[r.ppid]; p != nil {
			child := *p.info
			child.PID, child.PPID = r.pid, r.ppid
			e.info = &child
			e.parentSeq = p.seq
			e.parent = parentRef{Image: p.info.Image, CommandLine: p.info.CommandLine}
		}
		t.procs[r.pid] = e
	case procEventExec:
		info := r.info
		if r.hashFile != nil {
			sum, err := t.s.hasher.hashOpen(r.hashKey, r.hashFile)
			r.hashFile.Close()
			if err == nil {
				info.Hashes = sum
			} else {
				t.s.log.Debug("executable not hashed", "image", info.Image, "error", err)
			}
		}
		// A process gone before procfs could be read is still reported, with its id and its
		// parent's fields: a rule on ParentImage still sees what a remote-access tool ran.
		e := &tracked{seq: t.next(), info: info, reported: true, readFrom: r.readFrom, readTo: r.readTo}
		if cur != nil && cur.info.PPID > 0 {
			// The parent known from fork; procfs would name the reaper if the parent has exited.
			info.PPID = cur.info.PPID
		}
		if p := t.procs[info.PPID]; p != nil && info.PPID != info.PID && (cur == nil || cur.parentSeq == 0 || cur.parentSeq == p.seq) {
			e.parentSeq = p.seq
			e.parent = parentRef{Image: p.info.Image, CommandLine: p.info.CommandLine}
		} else if cur != nil {
			e.parentSeq, e.parent = cur.parentSeq, cur.parent
		}
		t.procs[r.pid] = e
		emit(newEvent(event.ProcessCreation, event.Linux, info, &e.parent, false))
	case procEventExit:
		if cur == nil {
			return
		}
		delete(t.procs, r.pid)
		if cur.reported {
			emit(newEvent(event.ProcessTermination, event.Linux, cur.info, &cur.parent, false))
		}
	}
}

// describe reads one process (for Resolver).
func (s *Source) describe(_ context.Context, pid int) (*procInfo, error) {
	info, _, err := s.procfs().read(pid)
	return info, err
}

// stale tells whether an event is already reflected in what procfs gave for the pid's entry:
//   - a fork older than the end of the read that created the entry (a scan saw the child);
//   - an exec that happened before that read ended and whose own read found the same image and
//     command line: a scan that saw the process after it exec'd, or, for `sh -c "exec x"`, the
//     read for the shell's exec that already found x (reporting it twice otherwise);
//   - the exit, older than a scan's read, of a previous process with the same pid.
func (t *pidTable) stale(cur *tracked, r record) bool {
	switch r.kind {
	case procEventFork:
		return r.ts < cur.readTo
	case procEventExec:
		return r.ts < cur.readTo && cur.info.Image == r.info.Image && cur.info.CommandLine == r.info.CommandLine
	case procEventExit:
		return cur.scanned && r.ts < cur.readFrom
	}
	return false
}

// Mid-exec retries: a read that lands inside a later execve of the same process finds the new
// executable but no arguments yet (the kernel sets them up last). It is read again, briefly.
const (
	settleTries = 4
	settleWait  = 250 * time.Microsecond
)

// readSettled reads a process, re-reading one caught inside execve.
func readSettled(fs procfs, pid int) (*procInfo, string, error) {
	for i := 0; ; i++ {
		info, exePath, err := fs.read(pid)
		if err != nil || exePath == "" || info.CommandLine != "" || i == settleTries-1 {
			return info, exePath, err
		}
		time.Sleep(settleWait)
	}
}
