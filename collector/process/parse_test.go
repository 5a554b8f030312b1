package process

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/vigilhq/vigil/internal/event"
)

func TestParseStatus(t *testing.T) {
	data := "Name:\tanydesk\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t4242\nPid:\t4242\nPPid:\t17\nUid:\t1000\t1001\t1000\t1000\nKthread:\t0\n"
	st, err := parseStatus([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if st.Name != "anydesk" || st.PPid != 17 || st.Uid != 1001 || st.Kthread {
		t.Errorf("got %+v", st)
	}
	st, err = parseStatus([]byte("Name:\tkworker/0:1\nPPid:\t2\nKthread:\t1"))
	if err != nil || !st.Kthread || st.Uid != -1 {
		t.Errorf("kernel thread: %+v %v", st, err)
	}
	bad := map[string]string{
		"":                                "no Name line",
		"PPid:\t3\n":                      "no Name line",
		"Name:\tx\nPPid:\tminus\n":        "line 2: field PPid",
		"Name:\tx\nPPid:\t-4\n":           "line 2: field PPid",
		"Name:\tx\nUid:\t1000\n":          "line 2: field Uid",
		"Name:\tx\nUid:\t1 99999999999\n": "line 2: field Uid",
	}
	for in, want := range bad {
		if _, err := parseStatus([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseStatus(%q) = %v, want error containing %q", in, err, want)
		}
	}
}

func TestParseCmdline(t *testing.T) {
	cases := map[string]string{
		"":                                      "",
		"\x00\x00":                              "",
		"/usr/bin/x11vnc\x00-display\x00:0\x00": "/usr/bin/x11vnc -display :0",
		"sshd: alice [priv]":                    "sshd: alice [priv]",
		"a\x00\x00b\x00":                        "a  b",
	}
	for in, want := range cases {
		if got := parseCmdline([]byte(in)); got != want {
			t.Errorf("parseCmdline(%q) = %q, want %q", in, got, want)
		}
	}
	if argv0([]byte("/bin/sh\x00-c\x00")) != "/bin/sh" || argv0([]byte("init")) != "init" {
		t.Error("argv0")
	}
}

// writeProc builds one fake procfs entry.
func writeProc(t *testing.T, root string, pid, status, cmdline, exe, cwd string) {
	t.Helper()
	dir := filepath.Join(root, pid)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "status"), []byte(status), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cmdline"), []byte(cmdline), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"exe": exe, "cwd": cwd} {
		if target == "" {
			continue
		}
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Skipf("symlinks unavailable: %v", err)
		}
	}
}

func TestProcfsFixture(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("procfs fixtures use symlinks")
	}
	root := t.TempDir()
	bin := filepath.Join(root, "opt", "AnyDesk", "anydesk") // inside the fixture: it is hashed
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, []byte("\x7fELF fake anydesk"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeProc(t, root, "100", "Name:\tanydesk\nPPid:\t1\nUid:\t0\t0\t0\t0\n", "anydesk\x00--tray-and-more\x00", bin, "/home/alice (deleted)")
	writeProc(t, root, "1", "Name:\tinit\nPPid:\t0\nUid:\t0\t0\t0\t0\n", "/sbin/init\x00", "", "")
	writeProc(t, root, "2", "Name:\tkthreadd\nPPid:\t0\n", "", "", "")
	writeProc(t, root, "3", "Name:\tkworker\nPPid:\t2\nKthread:\t1\n", "", "", "")
	writeProc(t, root, "4", "Name:\tzombie\nPPid:\t1\n", "", "", "")
	writeProc(t, root, "5", "garbage", "x", "", "")
	if err := os.MkdirAll(filepath.Join(root, "self"), 0o755); err != nil {
		t.Fatal(err)
	}
	etc := t.TempDir()
	if err := os.WriteFile(filepath.Join(etc, "passwd"), []byte("root:x:0:0:root:/root:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fs := procfs{root: root, maxCmd: 12, users: newUserCache(passwdLookup(filepath.Join(etc, "passwd"))), plain: true}
	pids, err := fs.pids()
	if err != nil || len(pids) != 6 { // 1-5, 100; opt and self are not processes
		t.Fatalf("pids = %v, %v", pids, err)
	}
	info, exePath, err := fs.read(100)
	if err != nil {
		t.Fatal(err)
	}
	if info.Image != bin || info.CurrentDirectory != "/home/alice" || info.PPID != 1 || info.CommandLine != "anydesk --tr" || exePath != filepath.Join(root, "100", "exe") {
		t.Errorf("read 100 = %+v exe %q (command line capped at 12 bytes)", info, exePath)
	}
	if info.User != "root" {
		t.Errorf("user = %q, want root from the etc root's passwd", info.User)
	}
	// exe unreadable: an absolute argv[0] stands in, and is not opened for hashing.
	info, exePath, err = fs.read(1)
	if err != nil || info.Image != "/sbin/init" || exePath != "" {
		t.Errorf("read 1 = %+v %q %v", info, exePath, err)
	}
	for _, pid := range []int{2, 3} {
		if _, _, err := fs.read(pid); !errors.Is(err, errKernelThread) {
			t.Errorf("read %d: %v, want kernel thread", pid, err)
		}
	}
	if _, _, err := fs.read(4); !errors.Is(err, errUnreadable) {
		t.Errorf("zombie: %v", err)
	}
	if _, _, err := fs.read(5); err == nil || !strings.Contains(err.Error(), "status") {
		t.Errorf("garbage status: %v", err)
	}
	if _, _, err := fs.read(6); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing process: %v", err)
	}

	// The hash of the process goes through its exe link.
	h := NewHasher(0, 0)
	sum, err := h.hashVia(bin, filepath.Join(root, "100", "exe"))
	if err != nil || !strings.HasPrefix(sum, "SHA256=") {
		t.Errorf("hash via exe link: %q %v", sum, err)
	}
}

// connMsg builds one netlink datagram carrying a proc_event.
func connMsg(what uint32, ts uint64, data ...uint32) []byte {
	ev := make([]byte, procHdrLen+4*len(data))
	binary.NativeEndian.PutUint32(ev, what)
	binary.NativeEndian.PutUint64(ev[8:], ts)
	for i, d := range data {
		binary.NativeEndian.PutUint32(ev[procHdrLen+4*i:], d)
	}
	b := make([]byte, nlmsgHdrLen+cnMsgLen+len(ev))
	binary.NativeEndian.PutUint32(b, uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:], nlmsgDone)
	c := b[nlmsgHdrLen:]
	binary.NativeEndian.PutUint32(c, cnIdxProc)
	binary.NativeEndian.PutUint32(c[4:], cnValProc)
	binary.NativeEndian.PutUint32(c[8:], 7)
	binary.NativeEndian.PutUint32(c[12:], 8)
	binary.NativeEndian.PutUint16(c[16:], uint16(len(ev)))
	copy(c[cnMsgLen:], ev)
	return b
}

func TestParseConnector(t *testing.T) {
	var buf []byte
	buf = append(buf, connMsg(procEventFork, 11, 10, 10, 20, 20)...)
	buf = append(buf, connMsg(procEventExec, 12, 20, 20)...)
	buf = append(buf, connMsg(procEventExit, 13, 21, 20, 0, 0, 10, 10)...)
	buf = append(buf, connMsg(procEventNone, 14, 0)...)
	buf = append(buf, connMsg(0x200, 15, 1, 2, 3, 4)...) // COMM: decoded header only
	var got []procEvent
	if err := parseConnector(buf, func(ev procEvent) { got = append(got, ev) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 {
		t.Fatalf("%d events: %+v", len(got), got)
	}
	if f := got[0]; f.What != procEventFork || f.ParentTgid != 10 || f.Pid != 20 || f.Tgid != 20 || f.Timestamp != 11 {
		t.Errorf("fork: %+v", f)
	}
	if e := got[1]; e.What != procEventExec || e.Tgid != 20 {
		t.Errorf("exec: %+v", e)
	}
	if x := got[2]; x.What != procEventExit || x.Pid != 21 || x.Tgid != 20 || x.ParentTgid != 10 {
		t.Errorf("exit: %+v", x)
	}
	if a := got[3]; a.What != procEventNone || a.Seq != 7 || a.Ack != 8 || a.Err != 0 {
		t.Errorf("ack: %+v", a)
	}

	// Other connector indexes are skipped; truncations are errors, never panics.
	other := connMsg(procEventExec, 1, 5, 5)
	binary.NativeEndian.PutUint32(other[nlmsgHdrLen:], 9)
	if err := parseConnector(other, func(procEvent) { t.Error("foreign connector message decoded") }); err != nil {
		t.Error(err)
	}
	full := connMsg(procEventFork, 1, 1, 1, 2, 2)
	for _, cut := range []int{17, 30, 40, len(full) - 1} {
		short := append([]byte(nil), full[:cut]...)
		binary.NativeEndian.PutUint32(short, uint32(cut))
		if err := parseConnector(short, func(procEvent) {}); err == nil {
			t.Errorf("cut at %d: no error", cut)
		}
	}
	if err := parseConnector(full[:len(full)-1], func(procEvent) {}); err == nil || !strings.Contains(err.Error(), "nlmsg_len") {
		t.Errorf("length beyond the datagram: %v", err)
	}

	// The control message round-trips through the parser's view of a cn_msg.
	ctl := connectorControl(procCnMcastListen, 41)
	if len(ctl) != 40 || binary.NativeEndian.Uint32(ctl[nlmsgHdrLen+12:]) != 41 || binary.NativeEndian.Uint32(ctl[36:]) != procCnMcastListen {
		t.Errorf("control message % x", ctl)
	}
}

func FuzzParseConnector(f *testing.F) {
	f.Add(connMsg(procEventFork, 1, 1, 1, 2, 2))
	f.Add(connMsg(procEventExit, 1, 2, 2, 0, 9, 1, 1))
	f.Add(append(connMsg(procEventExec, 1, 3, 3), connMsg(procEventNone, 1, 0)...))
	f.Add(connectorControl(procCnMcastListen, 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		n := 0
		_ = parseConnector(data, func(procEvent) { n++ })
		if n > len(data)/(nlmsgHdrLen+cnMsgLen+procHdrLen)+1 {
			t.Fatalf("%d events from %d bytes", n, len(data))
		}
	})
}

func FuzzParseStatus(f *testing.F) {
	f.Add([]byte("Name:\tbash\nPPid:\t1\nUid:\t1000\t1000\t1000\t1000\n"))
	f.Add([]byte("Name:\t\nKthread:\t1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := parseStatus(data)
		if err == nil && (st.PPid < 0 || st.Uid < -1) {
			t.Fatalf("accepted impossible values %+v", st)
		}
		_ = parseCmdline(data)
	})
}

func procArgs(argc int32, exe string, args ...string) []byte {
	b := binary.NativeEndian.AppendUint32(nil, uint32(argc))
	b = append(b, exe...)
	b = append(b, 0, 0, 0, 0)
	for _, a := range args {
		b = append(b, a...)
		b = append(b, 0)
	}
	return append(b, "SECRET=env\x00"...)
}

func TestParseProcArgs2(t *testing.T) {
	exe, cmd, err := parseProcArgs2(procArgs(3, "/Applications/AnyDesk.app/Contents/MacOS/AnyDesk", "AnyDesk", "--service", "x"), 1024)
	if err != nil || exe != "/Applications/AnyDesk.app/Contents/MacOS/AnyDesk" || cmd != "AnyDesk --service x" {
		t.Errorf("got %q %q %v", exe, cmd, err)
	}
	if strings.Contains(cmd, "SECRET") {
		t.Error("environment leaked into the command line")
	}
	if _, cmd, _ := parseProcArgs2(procArgs(2, "/bin/x", "abcdef", "ghijkl"), 8); cmd != "abcdef g" {
		t.Errorf("capped command line %q", cmd)
	}
	for _, bad := range [][]byte{nil, {1, 0}, procArgs(-1, "/x"), append(binary.NativeEndian.AppendUint32(nil, 1), "/no/terminator"...)} {
		if _, _, err := parseProcArgs2(bad, 100); err == nil {
			t.Errorf("parseProcArgs2(%q): no error", bad)
		}
	}
}

func FuzzParseProcArgs2(f *testing.F) {
	f.Add(procArgs(2, "/bin/zsh", "-zsh", "-l"), 64)
	f.Add([]byte{0, 0, 0, 0}, 4)
	f.Fuzz(func(t *testing.T, data []byte, max int) {
		if max <= 0 || max > 1<<20 {
			max = 64
		}
		exe, cmd, err := parseProcArgs2(data, max)
		if err == nil && (len(cmd) > max || len(exe) > len(data)) {
			t.Fatalf("cmd %d bytes over cap %d", len(cmd), max)
		}
	})
}

// A fixture tree is an ordinary folder: nothing outside it is read. An exe link that leaves it
// is not followed for hashing, and user ids are not looked up in this machine's user database.
func TestFixtureReadsNothingOutside(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("procfs fixtures use symlinks")
	}
	root := t.TempDir()
	outside := filepath.Join(t.TempDir(), "sshd")
	insideBin := filepath.Join(root, "usr", "bin", "x11vnc")
	for _, p := range []string{outside, insideBin} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("\x7fELF "+p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeProc(t, root, "10", "Name:\tsshd\nPPid:\t1\nUid:\t0\t0\t0\t0\n", "sshd\x00", outside, "/")
	writeProc(t, root, "11", "Name:\tx11vnc\nPPid:\t1\nUid:\t0\t0\t0\t0\n", "x11vnc\x00", insideBin, "/")
	s := New(Config{ProcRoot: root})
	evs := map[int]map[string]any{}
	err := s.Snapshot(context.Background(), func(e *event.Event) { evs[e.Fields["ProcessId"].(int)] = e.Fields })
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "linux" {
		t.Skip("procfs is read on Linux")
	}
	if f := evs[10]; f == nil || f["Image"] != outside || f["Hashes"] != nil {
		t.Errorf("exe link out of the root: %v (must not be hashed)", f)
	}
	if f := evs[11]; f == nil || f["Hashes"] == nil {
		t.Errorf("exe link inside the root: %v (must be hashed)", f)
	}
	if f := evs[10]; f["User"] != "0" {
		t.Errorf("User %v: a fixture's uid 0 is not this machine's root", f["User"])
	}
	etc := t.TempDir()
	if err := os.WriteFile(filepath.Join(etc, "passwd"), []byte("# users\ndaemon:x:1:1::/:/bin/false\nalice:x:0:0::/home/alice:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s = New(Config{ProcRoot: root, EtcRoot: etc})
	clear(evs)
	if err := s.Snapshot(context.Background(), func(e *event.Event) { evs[e.Fields["ProcessId"].(int)] = e.Fields }); err != nil {
		t.Fatal(err)
	}
	if evs[10]["User"] != "alice" {
		t.Errorf("User %v, want alice from the etc root's passwd", evs[10]["User"])
	}
}
