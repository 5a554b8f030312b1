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
// yet, instead of on every poll.
type procLister struct {
	root    string
	noUDP   bool
	buf     []byte
	rows    []procSocket
	owners  map[uint64]int  // socket inode -> pid (0: looked for, not found)
	present map[uint64]bool // scratch
	dirents []byte          // scratch for directory entries
	biggest int             // the biggest table read by this list
	peak    int             // the most rows present and owners were sized for
}

func newSocketLister(s *Source) func(context.Context) ([]Socket, error) {
	l := &procLister{root: s.cfg.ProcRoot, noUDP: s.cfg.NoUDP, owners: map[uint64]int{}, present: map[uint64]bool{}}
	return l.list
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
		l.present = make(map[uint64]bool, n)
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

// walkFDs maps the socket inodes in /proc/<pid>/fd to their processes. It looks at the newest
// processes first (the highest pids: a new socket mostly belongs to a process that just started)
// and stops as soon as every unknown inode is found, so the usual walk reads a few processes'
// descriptors, not the machine's. Inodes still unowned after a whole walk (another namespace's
// process, a socket closed meanwhile) are remembered as 0 so they do not trigger another one.
func (l *procLister) walkFDs(ctx context.Context) {
	pids, err := listPids(l.root)
	if err != nil {
		return
	}
	slices.Sort(pids)
	missing := 0
	for in := range l.present {
		if _, ok := l.owners[in]; !ok && in != 0 {
			missing++
		}
	}
	if l.dirents == nil {
		l.dirents = make([]byte, 8<<10)
	}
	var link [64]byte
	for i := len(pids) - 1; i >= 0 && missing > 0; i-- {
		if ctx.Err() != nil {
			return
		}
		pid := pids[i]
		dir := l.root + "/" + strconv.Itoa(pid) + "/fd"
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		forEachName(fd, l.dirents, func(name []byte) {
			n, err := unix.Readlinkat(fd, string(name), link[:])
			if err != nil || n < 10 || n == len(link) || string(link[:8]) != "socket:[" || link[n-1] != ']' {
				return
			}
			in, err := strconv.ParseUint(string(link[8:n-1]), 10, 64)
			if err != nil || !l.present[in] {
				return
			}
			if _, known := l.owners[in]; !known {
				missing--
			}
			l.owners[in] = pid
		})
		unix.Close(fd)
	}
	if missing > 0 {
		for in := range l.present {
			if _, ok := l.owners[in]; !ok {
				l.owners[in] = 0
			}
		}
	}
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
