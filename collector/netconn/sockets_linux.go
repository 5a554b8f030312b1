package netconn

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
)

// procLister lists sockets from /proc/net on Linux without gopsutil's cost: each table is read
// with one large buffer (every read() makes the kernel walk its socket hash again), and socket
// owners are found by walking /proc/<pid>/fd only when a socket inode appears that is not known
// yet, instead of on every poll. Its listeners method is the quick look for new TCP listeners
// alone, through sock_diag. Its methods are called under the Source's lock.
type procLister struct {
	root    string
	noUDP   bool
	buf     []byte
	diagBuf []byte // sock_diag answers
	rows    []procSocket
	owners  map[uint64]int  // socket inode -> pid (0: looked for, not found)
	present map[uint64]bool // scratch
	unowned map[uint64]bool // scratch: the inodes whose owner is looked for
	// newListeners is scratch: the listening sockets among unowned.
	newListeners []uint64
	dirents      []byte // scratch for directory entries
	biggest      int    // the biggest table read by this list
	peak         int    // the most rows present and owners were sized for
}

// newSocketLister returns the full listing and, on the live /proc, the quick listener look and
// the look at new processes' sockets.
func newSocketLister(s *Source) (list func(context.Context) ([]Socket, error), listeners func(context.Context, []int) ([]Socket, error), holdsNew func([]int) bool) {
	l := &procLister{root: s.cfg.ProcRoot, noUDP: s.cfg.NoUDP, owners: map[uint64]int{}, present: map[uint64]bool{}, unowned: map[uint64]bool{}}
	if s.cfg.ProcRoot == "/proc" {
		listeners, holdsNew = l.listeners, l.holdsNew
	}
	return l.list, listeners, holdsNew
}

// holdsNew tells whether one of pids holds a socket the last list did not show.
func (l *procLister) holdsNew(pids []int) bool {
	found := false
	for _, pid := range pids {
		l.socketInodes(pid, func(in uint64) bool {
			found = !l.present[in]
			return !found
		})
		if found {
			return true
		}
	}
	return false
}

// listeners lists the TCP listeners through sock_diag, with their owners: a new listener's
// owner is looked for first among the processes in recent (those that just started), then
// among every process, newest first.
func (l *procLister) listeners(ctx context.Context, recent []int) ([]Socket, error) {
	if l.diagBuf == nil {
		l.diagBuf = make([]byte, 32<<10)
	}
	rows, err := dumpListeners(nil, l.diagBuf)
	if err != nil {
		return nil, err
	}
	l.resetUnowned()
	for i := range rows {
		if _, ok := l.owners[rows[i].Inode]; !ok && rows[i].Inode != 0 {
			l.unowned[rows[i].Inode] = true
		}
	}
	if len(l.unowned) > 0 {
		l.newListeners = l.newListeners[:0]
		for in := range l.unowned {
			l.newListeners = append(l.newListeners, in)
		}
		l.findOwners(ctx, l.unowned, recent)
		l.eldestHolders(l.newListeners)
	}
	out := make([]Socket, len(rows))
	for i := range rows {
		out[i] = rows[i].Socket
		out[i].PID = l.owners[rows[i].Inode]
	}
	return out, nil
}

func (l *procLister) list(ctx context.Context) ([]Socket, error) {
	l.rows, l.biggest = l.rows[:0], 0
	tables := [][2]string{{"tcp", "tcp"}, {"tcp6", "tcp"}, {"udp", "udp"}, {"udp6", "udp"}}
	if l.noUDP {
		tables = tables[:2]
	}
	read := 0
	for _, t := range tables {
		data, err := l.read(filepath.Join(l.root, "net", t[0]))
		if errors.Is(err, fs.ErrNotExist) {
			continue // no IPv6, or no UDP
		}
		if err != nil {
			return nil, err
		}
		read++
		if l.rows, err = parseProcNet(data, t[1], binary.NativeEndian, l.rows); err != nil {
			return nil, fmt.Errorf("%s/net/%s: %w", l.root, t[0], err)
		}
	}
	if read == 0 {
		return nil, fmt.Errorf("no socket tables under %s/net", l.root)
	}
	l.shrink()
	clear(l.present)
	l.resetUnowned()
	l.newListeners = l.newListeners[:0]
	for i := range l.rows {
		in := l.rows[i].Inode
		l.present[in] = true
		if _, ok := l.owners[in]; !ok && in != 0 {
			l.unowned[in] = true
			if l.rows[i].State == "LISTEN" {
				l.newListeners = append(l.newListeners, in)
			}
		}
	}
	for in := range l.owners {
		if !l.present[in] {
			delete(l.owners, in)
		}
	}
	if len(l.unowned) > 0 {
		l.findOwners(ctx, l.unowned, nil)
		l.eldestHolders(l.newListeners)
	}
	out := make([]Socket, len(l.rows))
	for i := range l.rows {
		out[i] = l.rows[i].Socket
		out[i].PID = l.owners[l.rows[i].Inode]
	}
	return out, nil
}

// shrink lets go of the buffer and maps sized for a peak of sockets (a load test's tens of
// thousands) once the machine is back to a fraction of it: Go maps and slices keep their size.
func (l *procLister) shrink() {
	if len(l.buf) > minReadBuf && l.biggest < len(l.buf)/8 {
		l.buf = make([]byte, max(minReadBuf, 2*l.biggest))
	}
	n := len(l.rows)
	if n > l.peak {
		l.peak = n
		return
	}
	if l.peak > 1024 && n < l.peak/8 {
		l.rows = slices.Clone(l.rows)
		l.present, l.unowned = make(map[uint64]bool, n), make(map[uint64]bool)
		owners := make(map[uint64]int, n)
		for in, pid := range l.owners {
			owners[in] = pid
		}
		l.owners, l.peak = owners, n
	}
}

// minReadBuf is the smallest buffer tables are read with: a laptop's tables fit; a bigger one
// grows it, and it shrinks back when they are small again.
const minReadBuf = 64 << 10

func (l *procLister) read(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if l.buf == nil {
		l.buf = make([]byte, minReadBuf)
	}
	n := 0
	for {
		if n == len(l.buf) {
			l.buf = append(l.buf, make([]byte, len(l.buf))...)
		}
		m, err := f.Read(l.buf[n:])
		n += m
		if err == io.EOF || (err == nil && m == 0) {
			l.biggest = max(l.biggest, n)
			return l.buf[:n], nil
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
	}
}

// resetUnowned empties the scratch set of inodes whose owner is looked for.
func (l *procLister) resetUnowned() {
	if l.unowned == nil {
		l.unowned = map[uint64]bool{}
	}
	clear(l.unowned)
}

// findOwners maps the socket inodes in want to the processes holding them, through
// /proc/<pid>/fd: first the pids in first (processes that just started), then every process,
// newest first (the highest pids: a new socket mostly belongs to a process that just started),
// stopping as soon as every inode is found, so the usual walk reads a few processes'
// descriptors, not the machine's. Inodes still unowned after a whole walk (another namespace's
// process, a socket closed meanwhile) are remembered as 0 so they do not trigger another one.
// want is emptied.
func (l *procLister) findOwners(ctx context.Context, want map[uint64]bool, first []int) {
	for _, pid := range first {
		if len(want) == 0 {
			return
		}
		l.scanFDs(pid, want)
	}
	if len(want) == 0 {
		return
	}
	if pids, err := listPids(l.root); err == nil {
		slices.Sort(pids)
		for i := len(pids) - 1; i >= 0 && len(want) > 0 && ctx.Err() == nil; i-- {
			l.scanFDs(pids[i], want)
		}
	}
	for in := range want {
		l.owners[in] = 0
		delete(want, in)
	}
}

// scanFDs records pid as the owner of the sockets in want it holds, and takes them out of want.
func (l *procLister) scanFDs(pid int, want map[uint64]bool) {
	l.socketInodes(pid, func(in uint64) bool {
		if want[in] {
			l.owners[in] = pid
			delete(want, in)
		}
		return len(want) > 0
	})
}

// socketInodes calls fn with the inode of each socket process pid holds (its /proc/<pid>/fd
// links) until fn returns false.
func (l *procLister) socketInodes(pid int, fn func(inode uint64) bool) {
	fd, err := unix.Open(l.root+"/"+strconv.Itoa(pid)+"/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	if l.dirents == nil {
		l.dirents = make([]byte, 8<<10)
	}
	var link [64]byte
	more := true
	forEachName(fd, l.dirents, func(name []byte) {
		if !more {
			return
		}
		n, err := unix.Readlinkat(fd, string(name), link[:])
		if err != nil || n < 10 || n == len(link) || string(link[:8]) != "socket:[" || link[n-1] != ']' {
			return
		}
		if in, err := strconv.ParseUint(string(link[8:n-1]), 10, 64); err == nil {
			more = fn(in)
		}
	})
}

// eldestHolders moves the owner of each listening socket in inodes up to its eldest ancestor
// that still holds it. A child that inherited its parent's listener (Xtigervnc's xkbcomp, a
// server's worker, a shell between them) is newer, so the newest-first walk finds it first,
// but the socket is its parent's: a finding naming xkbcomp for a renamed VNC server's port
// would send the triage to the wrong program. Connections are left as found (climbing costs a
// read of the parent's descriptors, and new connections come far more often than listeners).
func (l *procLister) eldestHolders(inodes []uint64) {
	for _, in := range inodes {
		pid := l.owners[in]
		for range maxClimb {
			parent := parentPID(l.root, pid)
			if parent <= 1 || !l.holds(parent, in) {
				break
			}
			pid = parent
		}
		if pid > 0 {
			l.owners[in] = pid
		}
	}
}

// maxClimb bounds the ancestors eldestHolders looks at for one socket.
const maxClimb = 8

// holds reports whether process pid holds the socket inode in.
func (l *procLister) holds(pid int, in uint64) bool {
	found := false
	l.socketInodes(pid, func(held uint64) bool {
		found = held == in
		return !found
	})
	return found
}

// parentPID reads a process's parent from <root>/<pid>/stat (0 when it cannot be read): the
// field after the state, which follows the command name's closing parenthesis (the name may
// hold spaces and parentheses itself).
func parentPID(root string, pid int) int {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(root + "/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 2 {
		return 0
	}
	ppid, err := strconv.Atoi(string(f[1]))
	if err != nil {
		return 0
	}
	return ppid
}

// listPids lists the numeric entries of a procfs root.
func listPids(root string) ([]int, error) {
	d, err := os.Open(root)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	pids := make([]int, 0, len(names))
	for _, n := range names {
		if pid, err := strconv.Atoi(n); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// forEachName calls fn with the name of each entry of the open directory fd but "." and "..",
// reading the entries into buf.
func forEachName(fd int, buf []byte, fn func(name []byte)) {
	for {
		n, err := unix.ReadDirent(fd, buf)
		if err != nil || n <= 0 {
			return
		}
		for b := buf[:n]; len(b) >= 19; {
			reclen := int(binary.NativeEndian.Uint16(b[16:18]))
			if reclen < 19 || reclen > len(b) {
				return
			}
			name := b[19:reclen]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			if !(len(name) == 1 && name[0] == '.') && !(len(name) == 2 && name[0] == '.' && name[1] == '.') {
				fn(name)
			}
			b = b[reclen:]
		}
	}
}
