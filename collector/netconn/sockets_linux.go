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
// yet, instead of on every poll.
type procLister struct {
	root    string
	noUDP   bool
	buf     []byte
	rows    []procSocket
	owners  map[uint64]int  // socket inode -> pid (0: looked for, not found)
	present map[uint64]bool // scratch
}

func newSocketLister(s *Source) func(context.Context) ([]Socket, error) {
	l := &procLister{root: s.cfg.ProcRoot, noUDP: s.cfg.NoUDP, owners: map[uint64]int{}, present: map[uint64]bool{}}
	return l.list
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
	unknown := false
	for i := range l.rows {
		in := l.rows[i].Inode
		l.present[in] = true
		if _, ok := l.owners[in]; !ok && in != 0 {
			unknown = true
		}
	}
	for in := range l.owners {
		if !l.present[in] {
			delete(l.owners, in)
		}
	}
	if unknown {
		l.walkFDs(ctx)
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

// walkFDs maps the socket inodes in /proc/<pid>/fd to their processes. Inodes still unowned
// afterwards (another namespace's process, a socket closed meanwhile) are remembered as 0 so
// they do not trigger another walk.
func (l *procLister) walkFDs(ctx context.Context) {
	procs, err := os.ReadDir(l.root)
	if err != nil {
		return
	}
	var link [64]byte
	for _, p := range procs {
		if ctx.Err() != nil {
			return
		}
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		dir := filepath.Join(l.root, p.Name(), "fd")
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			target, err := os.Readlink(filepath.Join(dir, fd.Name()))
			if err != nil || len(target) < 9 || target[:8] != "socket:[" {
				continue
			}
			b := append(link[:0], target[8:len(target)-1]...)
			if in, err := strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 64); err == nil && l.present[in] {
				l.owners[in] = pid
			}
		}
	}
	for in := range l.present {
		if _, ok := l.owners[in]; !ok {
			l.owners[in] = 0
		}
	}
}
