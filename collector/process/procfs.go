package process

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// This file reads Linux procfs trees. It is plain Go (no build tag) so fixture trees are tested
// on every OS; only the Linux live path uses it on a real /proc.

// DefaultMaxCommandLine caps CommandLine (bytes read from /proc/<pid>/cmdline). Linux allows up
// to ~2 MiB of arguments; an event carries the first 32 KiB.
const DefaultMaxCommandLine = 32 << 10

// maxStatusBytes bounds the read of /proc/<pid>/status (about 1.5 KiB on a real kernel).
const maxStatusBytes = 16 << 10

// procStatus is what Vigil uses from /proc/<pid>/status.
type procStatus struct {
	Name    string
	PPid    int
	Uid     int // effective UID, as ps shows it; -1 when absent
	Kthread bool
}

// parseStatus parses /proc/<pid>/status text. It needs a Name line; other lines are optional
// (old kernels lack Kthread) and unknown lines are ignored.
func parseStatus(data []byte) (procStatus, error) {
	st := procStatus{Uid: -1}
	seenName := false
	for lineNo := 1; len(data) > 0; lineNo++ {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		key, val, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		val = bytes.TrimSpace(val)
		switch string(key) {
		case "Name":
			st.Name = string(val)
			seenName = true
		case "PPid":
			n, err := strconv.Atoi(string(val))
			if err != nil || n < 0 {
				return st, fmt.Errorf("status line %d: field PPid: bad value %q", lineNo, clip(val))
			}
			st.PPid = n
		case "Uid":
			f := bytes.Fields(val)
			if len(f) < 2 {
				return st, fmt.Errorf("status line %d: field Uid: want 4 ids, got %q", lineNo, clip(val))
			}
			n, err := strconv.ParseUint(string(f[1]), 10, 32)
			if err != nil {
				return st, fmt.Errorf("status line %d: field Uid: bad effective id %q", lineNo, clip(f[1]))
			}
			st.Uid = int(n)
		case "Kthread":
			st.Kthread = string(val) == "1"
		}
	}
	if !seenName {
		return st, errors.New("status: no Name line")
	}
	return st, nil
}

// clip shortens hostile values quoted in error messages.
func clip(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "..."
	}
	return string(b)
}

// parseCmdline turns /proc/<pid>/cmdline (arguments separated and ended by NUL bytes) into one
// line with the arguments joined by spaces. A process that rewrote its arguments as one
// space-separated string (setproctitle) comes out unchanged. Invalid UTF-8 is kept as is.
func parseCmdline(data []byte) string {
	data = bytes.TrimRight(data, "\x00")
	if len(data) == 0 {
		return ""
	}
	return string(bytes.ReplaceAll(data, []byte{0}, []byte{' '}))
}

// argv0 returns the first argument of a cmdline blob.
func argv0(data []byte) string {
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return string(data[:i])
	}
	return string(data)
}

// trimDeleted removes the " (deleted)" suffix the kernel appends to the exe and cwd links of a
// file that was removed or replaced after the process started.
func trimDeleted(p string) string { return strings.TrimSuffix(p, " (deleted)") }

// procfs reads processes from a procfs tree rooted at root.
type procfs struct {
	root   string
	maxCmd int
	users  *userCache
	// plain: root is an ordinary folder (a fixture tree), not a mounted procfs. Its exe links
	// are plain symlinks, so an executable is opened (hashed) only when its link stays inside
	// root: nothing is read outside a given root.
	plain bool
}

// errKernelThread marks kernel threads, which have no executable or command line to report.
var errKernelThread = errors.New("kernel thread")

// errUnreadable marks a process whose executable and command line cannot be read (yet).
var errUnreadable = errors.New("executable and command line unreadable")

// pids lists the numeric entries of the procfs root.
func (fs procfs) pids() ([]int, error) {
	d, err := os.Open(fs.root)
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("list processes in %s: %w", fs.root, err)
	}
	out := make([]int, 0, len(names))
	for _, n := range names {
		if pid, err := strconv.Atoi(n); err == nil && pid > 0 {
			out = append(out, pid)
		}
	}
	return out, nil
}

// read reads one process. exePath is the path to open for hashing (<root>/<pid>/exe, which
// reaches the executed file even after it was replaced or deleted). A process that exited
// between its listing and the read gives an error wrapping os.ErrNotExist.
func (fs procfs) read(pid int) (info *procInfo, exePath string, err error) {
	dir := filepath.Join(fs.root, strconv.Itoa(pid))
	// The exe link first: it is the most valuable and the first to go when a process exits.
	exe := filepath.Join(dir, "exe")
	image, exeErr := os.Readlink(exe)
	cmd, err := readCapped(filepath.Join(dir, "cmdline"), fs.maxCmd)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, "", fmt.Errorf("process %d: %w", pid, err)
	}
	cwd, cwdErr := os.Readlink(filepath.Join(dir, "cwd"))
	statusData, err := readCapped(filepath.Join(dir, "status"), maxStatusBytes)
	if err != nil {
		return nil, "", fmt.Errorf("process %d: %w", pid, err)
	}
	st, err := parseStatus(statusData)
	if err != nil {
		return nil, "", fmt.Errorf("process %d: %s: %w", pid, filepath.Join(dir, "status"), err)
	}
	if st.Kthread || (len(cmd) == 0 && (st.PPid == 2 || pid == 2)) {
		return nil, "", fmt.Errorf("process %d (%s): %w", pid, st.Name, errKernelThread)
	}
	info = &procInfo{PID: pid, PPID: st.PPid, CommandLine: parseCmdline(cmd), Name: st.Name}
	if exeErr == nil {
		info.Image = trimDeleted(image)
		if !fs.plain || inside(fs.root, exe) {
			exePath = exe
		}
	} else if a0 := argv0(cmd); strings.HasPrefix(a0, "/") {
		// The exe link is unreadable (not ours to read): an absolute argv[0] is the best path
		// there is; it is not opened for hashing.
		info.Image = a0
	}
	if info.Image == "" && info.CommandLine == "" {
		// An exited process not yet reaped (a zombie) or one caught inside execve: nothing to
		// report until it is readable.
		return nil, "", fmt.Errorf("process %d (%s): %w", pid, st.Name, errUnreadable)
	}
	if cwdErr == nil {
		info.CurrentDirectory = trimDeleted(cwd)
	}
	if st.Uid >= 0 {
		info.User = fs.users.name(st.Uid)
	}
	return info, exePath, nil
}

// readCapped reads at most limit bytes of a file.
func readCapped(path string, limit int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, nil
}

// inside tells whether link resolves to a file below root.
func inside(root, link string) bool {
	r, err := filepath.EvalSymlinks(root)
	if err != nil {
		return false
	}
	t, err := filepath.EvalSymlinks(link)
	if err != nil {
		return false
	}
	rel, err := filepath.Rel(r, t)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// userCache maps numeric user ids to names, remembering answers (including failures, which
// give the number as a string) so the user database is read once per id.
type userCache struct {
	mu     sync.Mutex
	lookup func(uid string) (string, error) // nil: ids stay numbers
	names  map[int]string
}

func newUserCache(lookup func(uid string) (string, error)) *userCache {
	return &userCache{lookup: lookup, names: make(map[int]string)}
}

// userLookup is where user names come from: EtcRoot/passwd when EtcRoot is set, the system's
// user database when ProcRoot is the live /proc, nowhere otherwise (a fixture tree's user ids
// are not this machine's).
func userLookup(cfg Config) func(uid string) (string, error) {
	switch {
	case cfg.EtcRoot != "":
		return passwdLookup(filepath.Join(cfg.EtcRoot, "passwd"))
	case filepath.Clean(cfg.ProcRoot) == "/proc":
		return func(uid string) (string, error) {
			u, err := user.LookupId(uid)
			if err != nil {
				return "", err
			}
			return u.Username, nil
		}
	}
	return nil
}

// maxPasswdBytes bounds what is read of a passwd file.
const maxPasswdBytes = 4 << 20

// passwdLookup reads user names from a passwd(5) file (name:password:uid:...), once.
func passwdLookup(path string) func(uid string) (string, error) {
	var (
		once  sync.Once
		names map[string]string
		err   error
	)
	return func(uid string) (string, error) {
		once.Do(func() {
			var b []byte
			if b, err = readCapped(path, maxPasswdBytes); err != nil {
				return
			}
			names = map[string]string{}
			for _, line := range strings.Split(string(b), "\n") {
				f := strings.Split(line, ":")
				if len(f) >= 3 && f[0] != "" && !strings.HasPrefix(f[0], "#") {
					if _, dup := names[f[2]]; !dup {
						names[f[2]] = f[0]
					}
				}
			}
		})
		if err != nil {
			return "", err
		}
		if n, ok := names[uid]; ok {
			return n, nil
		}
		return "", fmt.Errorf("uid %s not in %s", uid, path)
	}
}

func (c *userCache) name(uid int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n, ok := c.names[uid]; ok {
		return n
	}
	n := strconv.Itoa(uid)
	if c.lookup != nil {
		if name, err := c.lookup(n); err == nil && name != "" {
			n = name
		}
	}
	if len(c.names) >= 4096 { // bounded: a hostile uid churn cannot grow it without end
		clear(c.names)
	}
	c.names[uid] = n
	return n
}
