package queue

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// fill writes 200 items of 500 bytes into a new queue at path.
func fill(path string) error {
	d, err := OpenDisk(path, DiskOptions{})
	if err != nil {
		return err
	}
	defer d.Close()
	for i := range 200 {
		if err := d.Append(Item{Kind: KindEvent, Data: bytes.Repeat([]byte{byte(i)}, 500)}); err != nil {
			return err
		}
	}
	return nil
}

// A file that is not a queue is set aside with an error log line, and a fresh queue starts.
func TestDiskCorruptFileSetAside(t *testing.T) {
	cases := map[string]func(path string) error{
		"garbage": func(path string) error { return os.WriteFile(path, bytes.Repeat([]byte("not a queue "), 2000), 0o600) },
		"truncated": func(path string) error {
			if err := fill(path); err != nil {
				return err
			}
			return os.Truncate(path, 4096*3)
		},
		"damaged pages": func(path string) error {
			if err := fill(path); err != nil {
				return err
			}
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			// Overwrite a stretch of branch/leaf pages after the two meta pages.
			_, err = f.WriteAt(bytes.Repeat([]byte{0xA5}, 4096*6), 4096*2)
			return err
		},
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "queue.db")
			if err := damage(path); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			log := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Info})
			d, err := OpenDisk(path, DiskOptions{Logger: log})
			if err != nil {
				t.Fatalf("open after %s: %v", name, err)
			}
			defer d.Close()
			if st := d.Stats(); st.Items != 0 {
				t.Fatalf("fresh queue holds %d items", st.Items)
			}
			if err := d.Append(item(KindEvent, 1)); err != nil {
				t.Fatalf("fresh queue refuses appends: %v", err)
			}
			matches, _ := filepath.Glob(path + ".corrupt-*")
			if len(matches) != 1 {
				t.Fatalf("set-aside files: %v", matches)
			}
			if !strings.Contains(logs.String(), "queue file is corrupt") || !strings.Contains(logs.String(), matches[0]) {
				t.Fatalf("log does not name the set-aside file:\n%s", logs.String())
			}
		})
	}
}

func TestDiskLockedByAnotherOpener(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queue.db")
	d, err := OpenDisk(path, DiskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	_, err = OpenDisk(path, DiskOptions{LockTimeout: 100 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "held by another process") {
		t.Fatalf("second open: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("a held queue must not be set aside: %v", err)
	}
}

// The child side of TestDiskSIGKILL: append numbered items (and ack some) forever, printing
// "A n" after each append of item n returned, "P n" before acknowledging item n and "K n"
// after that returned.
func TestMain(m *testing.M) {
	if path := os.Getenv("VIGIL_QUEUE_CRASH_CHILD"); path != "" {
		crashChild(path)
		return
	}
	os.Exit(m.Run())
}

func crashChild(path string) {
	d, err := OpenDisk(path, DiskOptions{MaxBytes: 1 << 30})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	out := bufio.NewWriter(os.Stdout)
	start, _ := strconv.Atoi(os.Getenv("VIGIL_QUEUE_CRASH_START"))
	for n := start; ; n++ {
		batch := []Item{{Kind: KindEvent, Data: fmt.Appendf(nil, `{"n":%d,"pad":"%s"}`, n, strings.Repeat("x", n%700))}}
		if err := d.Append(batch...); err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		fmt.Fprintf(out, "A %d\n", n)
		if n%3 == 0 {
			got, err := d.Peek(2, 1<<20)
			if err == nil && len(got) > 0 {
				fmt.Fprintf(out, "P %s\n", got[0].Data)
				out.Flush()
				if d.Ack(got[0].Seq) == nil {
					fmt.Fprintf(out, "K %s\n", got[0].Data)
				}
			}
		}
		out.Flush()
	}
}

// Killing the writer with SIGKILL at random instants never loses an acknowledged append, never
// resurrects an acknowledged removal, and never corrupts the file.
func TestDiskSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "queue.db")
	appended := map[int]bool{}
	acked := map[int]bool{}
	pending := map[int]bool{} // an Ack was under way when the child died: either outcome is right
	next := 0
	const rounds = 25
	for round := range rounds {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), "VIGIL_QUEUE_CRASH_CHILD="+path, "VIGIL_QUEUE_CRASH_START="+strconv.Itoa(next))
		var out bytes.Buffer
		cmd.Stdout = &out
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(50+rand.IntN(250)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		for _, line := range strings.Split(out.String(), "\n") {
			switch {
			case strings.HasPrefix(line, "A "):
				n, _ := strconv.Atoi(line[2:])
				appended[n] = true
				next = max(next, n+1)
			case strings.HasPrefix(line, "P "), strings.HasPrefix(line, "K "):
				var n int
				if err := jsonN(line[2:], &n); err == nil {
					pending[n] = line[0] == 'P'
					if line[0] == 'K' {
						acked[n] = true
					}
				}
			case strings.HasPrefix(line, "ERR"):
				t.Fatalf("round %d: child: %s", round, line)
			}
		}
		next += 1000 // a fresh range, so an item appended but not printed cannot collide
		d, err := OpenDisk(path, DiskOptions{MaxBytes: 1 << 30})
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		if m, _ := filepath.Glob(path + ".corrupt-*"); len(m) > 0 {
			t.Fatalf("round %d: the queue was found corrupt", round)
		}
		items, err := d.Peek(1<<30, 1<<40)
		if err != nil {
			t.Fatal(err)
		}
		have := map[int]bool{}
		for _, it := range items {
			var n int
			if err := jsonN(string(it.Data), &n); err != nil {
				t.Fatalf("round %d: item %q: %v", round, it.Data, err)
			}
			if have[n] {
				t.Fatalf("round %d: item %d twice", round, n)
			}
			have[n] = true
		}
		for n := range appended {
			if !acked[n] && !pending[n] && !have[n] {
				t.Fatalf("round %d: acknowledged append %d lost", round, n)
			}
		}
		for n := range acked {
			if have[n] {
				t.Fatalf("round %d: acknowledged removal %d came back", round, n)
			}
		}
		d.Close()
	}
	t.Logf("%d kills, %d appends confirmed, %d removals confirmed", rounds, len(appended), len(acked))
}

// jsonN reads the "n" of {"n":N,...} without a JSON decoder's tolerance for junk around it.
func jsonN(s string, n *int) error {
	rest, ok := strings.CutPrefix(s, `{"n":`)
	if !ok {
		return fmt.Errorf("no n in %q", s)
	}
	i := strings.IndexByte(rest, ',')
	if i < 0 {
		return fmt.Errorf("no n in %q", s)
	}
	v, err := strconv.Atoi(rest[:i])
	*n = v
	return err
}
