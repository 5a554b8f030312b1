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
	"strconv"
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
	rows    []procSocket
	owners  map[uint64]int  // socket inode -> pid (0: looked for, not found)
	present map[uint64]bool // scratch
	unowned map[uint64]bool // scratch
}

// newSocketLister returns the full listing and, on the live /proc, the quick listener look.
func newSocketLister(s *Source) (list func(context.Context) ([]Socket, error), listeners func(context.Context, []int) ([]Socket, error)) {
	l := &procLister{root: s.cfg.ProcRoot, noUDP: s.cfg.NoUDP, owners: map[uint64]int{}, present: map[uint64]bool{}, unowned: map[uint64]bool{}}
	if s.cfg.ProcRoot == "/proc" {
		listeners = l.listeners
	}
	return l.list, listeners
}

// listeners lists the TCP listeners through sock_diag, with their owners: a new listener's
// owner is looked for first among the processes in recent (those that just started), and only
// if it is not there among every process.
func (l *procLister) listeners(ctx context.Context, recent []int) ([]Socket, error) {
	if l.buf == nil {
		l.buf = make([]byte, 256<<10)
	}
	rows, err := dumpListeners(nil, l.buf)
	if err != nil {
		return nil, err
	}
	clear(l.unowned)
	for i := range rows {
		if _, ok := l.owners[rows[i].Inode]; !ok && rows[i].Inode != 0 {
			l.unowned[rows[i].Inode] = true
		}
	}
	if len(l.unowned) > 0 {
		l.findOwners(ctx, l.unowned, recent)
	}
	out := make([]Socket, len(rows))
	for i := range rows {
		out[i] = rows[i].Socket
		out[i].PID = l.owners[rows[i].Inode]
	}
	return out, nil
}

func (l *procLister) list(ctx context.Context) ([]Socket, error) {
	l.rows = l.rows[:0]
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
	clear(l.present)
	clear(l.unowned)
	for i := range l.rows {
		in := l.rows[i].Inode
		l.present[in] = true
		if _, ok := l.owners[in]; !ok && in != 0 {
			l.unowned[in] = true
		}
	}
	for in := range l.owners {
		if !l.present[in] {
			delete(l.owners, in)
		}
	}
	if len(l.unowned) > 0 {
		l.findOwners(ctx, l.unowned, nil)
	}
	out := make([]Socket, len(l.rows))
	for i := range l.rows {
		out[i] = l.rows[i].Socket
		out[i].PID = l.owners[l.rows[i].Inode]
	}
	return out, nil
}

func (l *procLister) read(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if l.buf == nil {
		l.buf = make([]byte, 256<<10)
	}
	n := 0
	for {
		if n == len(l.buf) {
			l.buf = append(l.buf, make([]byte, len(l.buf))...)
		}
		m, err := f.Read(l.buf[n:])
		n += m
		if err == io.EOF || (err == nil && m == 0) {
			return l.buf[:n], nil
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
	}
}

// findOwners maps the socket inodes in want to the processes holding them, through
// /proc/<pid>/fd: first those of the pids in first, then, if some are still missing, every
// process's. Inodes still unowned afterwards (another namespace's process, a socket closed
// meanwhile) are remembered as 0 so they do not trigger another walk. want is emptied.
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
	if procs, err := os.ReadDir(l.root); err == nil {
		for _, p := range procs {
			if ctx.Err() != nil || len(want) == 0 {
				break
			}
			if pid, err := strconv.Atoi(p.Name()); err == nil {
				l.scanFDs(pid, want)
			}
		}
	}
	for in := range want {
		l.owners[in] = 0
		delete(want, in)
	}
}

// scanFDs records pid as the owner of the sockets in want it holds, and takes them out of want.
func (l *procLister) scanFDs(pid int, want map[uint64]bool) {
	dir := filepath.Join(l.root, strconv.Itoa(pid), "fd")
	fds, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	var link [64]byte
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join(dir, fd.Name()))
		if err != nil || len(target) < 9 || target[:8] != "socket:[" {
			continue
		}
		b := append(link[:0], target[8:len(target)-1]...)
		if in, err := strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 64); err == nil && want[in] {
			l.owners[in] = pid
			delete(want, in)
		}
	}
}
