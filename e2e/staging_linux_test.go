package e2e

import (
	"bytes"
	"crypto/rand"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/devworkload"
	"github.com/vigilhq/vigil/internal/stick"
)

// TestStaging: 2,000 files of a source tree (Go's own) copied into a hidden folder under a
// home, a password-protected 7z and a 300 MB zip made from them, both copied to a loop-mounted
// file system standing for a USB stick. The agent must report the staging, the encrypted
// archive and the copy to removable media; their latencies from the last step (the copy to the
// stick) are logged.
func TestStaging(t *testing.T) {
	t.Parallel()
	NeedRoot(t, "the kernel's process connector and a loop-mounted stick")
	for _, tool := range []string{"7z", "zip", "losetup"} {
		Need(t, tool)
	}
	home := devworkload.HomeLikeDir(t)
	hidden := filepath.Join(home, ".cache", ".t")
	if err := os.MkdirAll(hidden, 0o755); err != nil {
		t.Fatal(err)
	}
	// The stick, mounted where a desktop mounts one (/media/<user>/<label>).
	media, err := os.MkdirTemp("/media", "vigil-e2e-")
	if err != nil {
		if err = os.MkdirAll("/media", 0o755); err == nil {
			media, err = os.MkdirTemp("/media", "vigil-e2e-")
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { os.RemoveAll(media) })
	mp := filepath.Join(media, "STICK")
	if err := os.Mkdir(mp, 0o755); err != nil {
		t.Fatal(err)
	}
	srv := StartServer(t, ServerOptions{})
	agent := StartAgent(t, srv, AgentOptions{Name: "staging", Only: []string{"process", "files", "media"}, FileRoots: []string{home}})
	fstype, err := stick.Mount(t, mp, 512<<20)
	if err != nil {
		Unavailable(t, "no stick: %v", err)
	}
	t.Logf("stick: %s on %s", fstype, mp)

	// 2,000 files of a real source tree, copied with cp into the hidden folder.
	goroot, err := exec.Command(Need(t, "go"), "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	src := filepath.Join(strings.TrimSpace(string(goroot)), "src")
	files := sourceFiles(t, src, 2000)
	list := filepath.Join(t.TempDir(), "files")
	if err := os.WriteFile(list, []byte(strings.Join(files, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tree := filepath.Join(hidden, "src")
	steps := time.Now()
	if err := os.Mkdir(tree, 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, src, "sh", "-c", "xargs -a "+list+" cp --parents -t "+tree)
	copied := time.Now()
	t.Logf("2,000 files copied into %s in %s", tree, copied.Sub(steps).Round(time.Millisecond))
	step := func(what string, since time.Time) time.Time {
		t.Logf("%s in %s", what, time.Since(since).Round(time.Millisecond))
		return time.Now()
	}
	// A database export beside them, so the zip weighs 300 MB (stored, not compressed).
	export := filepath.Join(hidden, "customers-export.bin")
	writeExport(t, export, 290<<20)
	at := step("a 290 MB export written beside them", copied)
	sevenZ := filepath.Join(hidden, "q3.7z")
	run(t, hidden, "7z", "a", "-bd", "-y", "-pS3cr3t-e2e", "-mhe=on", "-mx=1", sevenZ, "src")
	sevenStart := at
	at = step("the password-protected 7z made", at)
	sevenEnd := at
	zipped := filepath.Join(hidden, "q3.zip")
	run(t, hidden, "zip", "-q", "-r", "-0", zipped, "src", filepath.Base(export))
	if st, err := os.Stat(zipped); err != nil || st.Size() < 300<<20 {
		t.Fatalf("the zip: %v (want at least 300 MB)", err)
	}
	at = step("the 300 MB zip made", at)
	run(t, hidden, "cp", sevenZ, mp)
	run(t, "", "sync", "-f", filepath.Join(mp, "q3.7z"))
	sevenCopied := step("the 7z copied to the stick", at)
	run(t, hidden, "cp", zipped, mp)
	run(t, "", "sync", "-f", filepath.Join(mp, "q3.zip"))
	last := step("the zip copied to the stick", sevenCopied)

	under := func(dir string) func(Event) bool {
		return func(ev Event) bool {
			return strings.HasPrefix(ev.Str("TargetFilename"), dir+"/") || ev.Str("TargetFilename") == dir
		}
	}
	// Each finding's latency is from the step that completes it: the 7z's start (its command
	// line), the 7z's end (the archive closed), the copy to the stick's end.
	type want struct {
		what, rule, level string
		evidence          func(Event) bool
		since             time.Time
		from              string
	}
	for _, w := range []want{
		{"7z run with a password", "staging_archive_password_cli", "medium",
			func(ev Event) bool { return strings.Contains(ev.Str("CommandLine"), sevenZ) }, sevenStart, "the 7z started"},
		{"password-protected 7z written", "staging_archive_encrypted_file", "medium", under(sevenZ), sevenEnd, "the 7z ended"},
		// staging_files_gathered (2,000 files in the hidden folder) raises no finding of its
		// own: it is the first step of these two.
		{"files gathered in the hidden folder, then a password-protected archive", "staging_gather_then_encrypted_archive", "high",
			under(hidden), sevenEnd, "the 7z ended"},
		{"files gathered in the hidden folder, then an archive (the zip on the stick)", "staging_gather_then_archive", "medium",
			under(hidden), last, "the copy of the zip ended"},
		{"archive copied to the stick", "staging_archive_removable", "medium", under(mp), last, "the copy of the zip ended"},
		{"password-protected archive copied to the stick", "staging_archive_encrypted_removable", "high", under(mp), sevenCopied, "the copy of the 7z ended"},
	} {
		got := agent.Await(t, w.since, 60*time.Second, w.rule+" ("+w.what+")", Rule(w.rule, w.evidence))
		if got.Finding.Level != w.level {
			t.Errorf("%s at %s, want %s", w.rule, got.Finding.Level, w.level)
		}
		Record(t, "staging", w.what+" -> "+w.rule, got.Latency, w.level+"; from when "+w.from+"; "+Goal(t, w.rule, got.Latency, 5*time.Second))
	}
}

// sourceFiles lists the first n regular files under dir (relative paths, sorted walk).
func sourceFiles(t *testing.T, dir string, n int) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if len(out) == n {
			return filepath.SkipAll
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < n {
		Unavailable(t, "%s has %d files, want %d", dir, len(out), n)
	}
	sort.Strings(out)
	return out
}

// writeExport writes size bytes that do not compress (a 1 MiB random block, repeated).
func writeExport(t *testing.T, path string, size int) {
	t.Helper()
	block := make([]byte, 1<<20)
	if _, err := rand.Read(block); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, bytes.Repeat(block, size>>20), 0o600); err != nil {
		t.Fatal(err)
	}
}
