package files

import (
	"bytes"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func TestExtensionMismatch(t *testing.T) {
	cases := []struct {
		name, typ string
		want      bool
	}{
		{"q3-report.xlsx", ArchiveGz, true},
		{"q3-report.xlsx", ArchiveZip, false},
		{"holiday.JPG", Archive7z, true},
		{"notes.txt", ArchiveZip, true},
		{"src.tar", ArchiveGz, false},
		{"src.tgz", ArchiveGz, false},
		{"dump.7z", ArchiveZip, true},
		{"blob", Archive7z, false},     // no extension: claims nothing
		{"blob.bin", Archive7z, false}, // unlisted extension: claims nothing
		{"notes.txt", "", false},
	}
	for _, c := range cases {
		if got := ExtensionMismatch(c.name, c.typ); got != c.want {
			t.Errorf("ExtensionMismatch(%q, %q) = %v", c.name, c.typ, got)
		}
	}
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func detectEnc(t *testing.T, data []byte) string {
	t.Helper()
	got, err := DetectEncrypted(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestDetectEncryptedRealTools encrypts with the real openssl and gpg, as a pipe would.
func TestDetectEncryptedRealTools(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "src.tar")
	if err := os.WriteFile(plain, bytes.Repeat([]byte("source code\n"), 20000), 0o644); err != nil {
		t.Fatal(err)
	}
	tools := []struct {
		tool string
		args []string
		out  string
		want string
	}{
		{"openssl", []string{"enc", "-aes-256-cbc", "-pbkdf2", "-pass", "pass:x", "-in", plain, "-out", "c.bin"}, "c.bin", EncryptedOpenSSL},
		{"gpg", []string{"--batch", "--homedir", dir, "--pinentry-mode", "loopback", "--passphrase", "x", "-c", "-o", "c.gpg", plain}, "c.gpg", EncryptedOpenPGP},
		{"gpg", []string{"--batch", "--homedir", dir, "--pinentry-mode", "loopback", "--passphrase", "x", "-c", "--armor", "-o", "c.asc", plain}, "c.asc", EncryptedOpenPGP},
		{"openssl", []string{"enc", "-aes-256-ctr", "-nosalt", "-K", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", "-iv", "00000000000000000000000000000000", "-in", plain, "-out", "raw.bin"}, "raw.bin", EncryptedUnknown},
		{"gzip", []string{"-k", "-f", plain}, "src.tar.gz", ""},
	}
	for _, tc := range tools {
		if _, err := exec.LookPath(tc.tool); err != nil {
			t.Logf("%s not installed: case %s skipped", tc.tool, tc.out)
			continue
		}
		cmd := exec.Command(tc.tool, tc.args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", tc.tool, tc.args, err, out)
		}
		data, err := os.ReadFile(filepath.Join(dir, tc.out))
		if err != nil {
			t.Fatal(err)
		}
		if got := detectEnc(t, data); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.out, got, tc.want)
		}
	}
}

func TestDetectEncryptedNot(t *testing.T) {
	big := randomBytes(t, 128<<10)
	if got := detectEnc(t, big); got != EncryptedUnknown {
		t.Errorf("128 KiB of random bytes: %q", got)
	}
	if got := detectEnc(t, big[:32<<10]); got != "" {
		t.Errorf("32 KiB of random bytes (below the size floor): %q", got)
	}
	for name, head := range map[string][]byte{
		"png": {0x89, 'P', 'N', 'G'}, "jpeg": {0xff, 0xd8, 0xff, 0xe0}, "mp4": []byte("\x00\x00\x00\x18ftypisom"),
		"sqlite": []byte("SQLite format 3\x00"), "elf": {0x7f, 'E', 'L', 'F'},
	} {
		data := append(append([]byte{}, head...), big...)
		if got := detectEnc(t, data); got != "" {
			t.Errorf("%s: %q, want none (a known format)", name, got)
		}
	}
	if got := detectEnc(t, bytes.Repeat([]byte("package main\n"), 10000)); got != "" {
		t.Errorf("source code: %q", got)
	}
	if e := entropy(big[:4096]); e < 7.9 {
		t.Errorf("entropy of 4 KiB of random bytes %.3f", e)
	}
}

// TestArchiveHeldUntilComplete writes what 7-Zip writes first (a start header whose next-header
// fields are still zero), pauses longer than the settle time, then the finished encrypted
// archive: one event, created, encrypted.
func TestArchiveHeldUntilComplete(t *testing.T) {
	dir := t.TempDir()
	makeSourceTree(t, dir)
	run(t, dir, "7z", "a", "-bd", "-y", "-psecret", "-mhe=on", "done.7z", "src")
	final, err := os.ReadFile(filepath.Join(dir, "done.7z"))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	_, rec, _ := start(t, Config{Roots: []string{root}, Excludes: []string{}, Settle: 100 * time.Millisecond})
	p := filepath.Join(root, "o.7z")
	placeholder := append(append([]byte{}, final[:8]...), make([]byte, 24)...)
	if err := os.WriteFile(p, placeholder, 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // many settle periods
	if got := rec.find(p); len(got) != 0 {
		t.Fatalf("the placeholder was reported: %v", got[0].Fields)
	}
	if err := os.WriteFile(p, final, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the finished archive", 10*time.Second, func() bool { return len(rec.find(p)) > 0 })
	time.Sleep(300 * time.Millisecond)
	got := rec.find(p)
	if len(got) != 1 || got[0].Fields["Action"] != "created" || got[0].Fields["ArchiveEncrypted"] != true {
		for _, e := range got {
			t.Logf("event %v", e.Fields)
		}
		t.Fatalf("want one created, encrypted 7z event")
	}
}

// TestDisguisedArchiveAndEncryptedBlobEvents: a tar.gz named .xlsx and an openssl blob written
// under a hidden folder are reported with ExtensionMismatch and EncryptedFormat.
func TestDisguisedArchiveAndEncryptedBlobEvents(t *testing.T) {
	root := t.TempDir()
	hidden := filepath.Join(root, ".cache", ".x")
	if err := os.MkdirAll(hidden, 0o755); err != nil {
		t.Fatal(err)
	}
	_, rec, _ := start(t, Config{Roots: []string{root}, Settle: 100 * time.Millisecond})
	x := filepath.Join(hidden, "q3.xlsx")
	gz := append([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3}, randomBytes(t, 4096)...)
	if err := os.WriteFile(x, gz, 0o644); err != nil {
		t.Fatal(err)
	}
	c := filepath.Join(hidden, "c.bin")
	if err := os.WriteFile(c, append([]byte("Salted__12345678"), randomBytes(t, 100<<10)...), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both files", 10*time.Second, func() bool { return len(rec.find(x)) > 0 && len(rec.find(c)) > 0 })
	if f := rec.find(x)[0].Fields; f["ArchiveType"] != ArchiveGz || f["ExtensionMismatch"] != true {
		t.Errorf("disguised archive: %v", f)
	}
	if f := rec.find(c)[0].Fields; f["EncryptedFormat"] != EncryptedOpenSSL || f["ArchiveType"] != nil {
		t.Errorf("openssl blob: %v", f)
	}
}

// TestHiddenFolderWatchShare: each hidden folder under a root gets at most HiddenWatchLimit
// watches; other folders are not affected.
func TestHiddenFolderWatchShare(t *testing.T) {
	root := t.TempDir()
	for i := 0; i < 20; i++ {
		for _, d := range []string{filepath.Join(".config", "app", string(rune('a'+i))), filepath.Join("projects", string(rune('a'+i)))} {
			if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	s, _, _ := start(t, Config{Roots: []string{root}, HiddenWatchLimit: 5})
	// start returns at the first watch; the walk goes on. Its end: the 1 + 1 + 21 watches
	// (root, .config, projects and its 20) and 5 of .config's, the other 17 left unwatched.
	counts := func() (inHidden, inProjects, unwatched int) {
		unwatched = s.Stats().UnwatchedDirs
		s.mu.Lock()
		defer s.mu.Unlock()
		inHidden = s.hidden[filepath.Join(root, ".config")]
		for p := range s.watched {
			if within(p, filepath.Join(root, "projects")) {
				inProjects++
			}
		}
		return inHidden, inProjects, unwatched
	}
	waitFor(t, "the walk", 10*time.Second, func() bool { h, p, u := counts(); return h+p+u >= 5+21+17 })
	if h, p, u := counts(); h != 5 || p != 21 || u == 0 {
		t.Errorf("watches in .config %d (want 5), in projects %d (want 21), unwatched %d", h, p, u)
	}
}

// TestSlowCopyStillAggregates: three files in a window, each within the per-folder budget and
// so reported on its own, still give the window's aggregate, so a slow copy adds up.
func TestSlowCopyStillAggregates(t *testing.T) {
	root := t.TempDir()
	_, rec, stop := start(t, Config{Roots: []string{root}, Window: 2 * time.Second})
	dir := filepath.Join(root, "out")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	for i := 0; i < 3; i++ {
		if err := os.WriteFile(filepath.Join(dir, string(rune('a'+i))+".txt"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	waitFor(t, "the window's aggregate", 10*time.Second, func() bool { return len(rec.find(dir)) > 0 })
	stop()
	if f := rec.find(dir)[0].Fields; f["Action"] != "aggregate" || f["FileCount"] != 3 {
		t.Errorf("aggregate %v", f)
	}
}
