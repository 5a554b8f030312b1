package main

// Staging that hides, run for real under `vigil scan --watch`: a renamed 7z writing a large
// encrypted archive in a hidden folder, a tar.gz named as a spreadsheet, `tar cz | openssl enc`,
// a vfat stick mounted outside /media with a slow copy onto it, and fifteen repositories fetched
// by hand (git init + git fetch). Each must be caught at its level; latencies are logged: for a
// file, from the moment its writer finished; for the slow copy, from its last file.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/devworkload"
	"github.com/vigilhq/vigil/internal/rdservers"
	"github.com/vigilhq/vigil/internal/stick"
)

func mustRun(t *testing.T, dir, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func targetIs(p string) func(map[string]any) bool {
	return func(f map[string]any) bool { return f["TargetFilename"] == p }
}

func TestScanCatchesHiddenStaging(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: this test stages data under vigil scan --watch")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: the process connector and a loop-mounted stick")
	}
	home := devworkload.HomeLikeDir(t)
	hidden := filepath.Join(home, ".cache", ".t")
	src := filepath.Join(home, "src")
	for _, d := range []string{hidden, src} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A source tree of a few MB of incompressible data, so archiving takes a moment.
	for i := 0; i < 8; i++ {
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("blob%d.bin", i)), randomData(t, 1<<20), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ls := startWatch(t, 10*time.Minute, "--only", "process,files,media", "--files-root", home)
	waitWatching(t, &ls.out, &ls.errOut, home)
	var lat latencies
	defer lat.log(t)

	t.Run("renamed 7z, encrypted archive in a hidden folder", func(t *testing.T) {
		// Debian's 7z is a script running /usr/lib/p7zip/7z, which loads 7z.so beside it.
		real := "/usr/lib/p7zip/7z"
		if _, err := os.Stat(real); err != nil {
			t.Skipf("%s not installed (p7zip-full): %v", real, err)
		}
		dir := filepath.Join(hidden, "zz")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		exe := rdservers.CopyExe(t, real, filepath.Join(dir, "zz"))
		rdservers.CopyExe(t, "/usr/lib/p7zip/7z.so", filepath.Join(dir, "7z.so"))
		out := filepath.Join(hidden, "o.7z")
		mustRun(t, home, exe, "a", "-bd", "-y", "-pS3cr3t", "-mhe=on", "-mx=1", out, src)
		start := time.Now() // the archive exists once the writer has finished
		lat.add(t, "renamed 7z, encrypted archive in ~/.cache", "staging_archive_encrypted_file", "medium",
			ls.caught(t, start, "staging_archive_encrypted_file", "medium", targetIs(out)))
	})
	t.Run("tar.gz named as a spreadsheet", func(t *testing.T) {
		out := filepath.Join(home, "Documents", "q3-report.xlsx")
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			t.Fatal(err)
		}
		mustRun(t, home, "tar", "czf", out, "src")
		start := time.Now()
		lat.add(t, "tar.gz named .xlsx", "staging_archive_disguised", "medium",
			ls.caught(t, start, "staging_archive_disguised", "medium", targetIs(out)))
	})
	t.Run("tar cz | openssl enc", func(t *testing.T) {
		if _, err := exec.LookPath("openssl"); err != nil {
			t.Skip("openssl not installed")
		}
		out := filepath.Join(home, "c.bin")
		mustRun(t, home, "sh", "-c", "tar cz src | openssl enc -aes-256-cbc -pbkdf2 -pass pass:x -out "+out)
		start := time.Now()
		lat.add(t, "tar cz | openssl enc -out ~/c.bin", "staging_encrypted_blob", "medium",
			ls.caught(t, start, "staging_encrypted_blob", "medium", targetIs(out)))
	})
	t.Run("stick outside /media, slow copy", func(t *testing.T) {
		mp := filepath.Join(home, "usb")
		if err := os.Mkdir(mp, 0o755); err != nil {
			t.Fatal(err)
		}
		fstype, err := stick.Mount(t, mp, 64<<20)
		if err != nil {
			t.Skip(err)
		}
		ls.wait(t, "the stick's removable_media event", func(l *e2eLine) bool {
			return l.Category == "removable_media" && l.Fields["MountPoint"] == mp && l.Fields["Reason"] == "fs-type" && l.Fields["FsType"] == fstype
		})
		// A slow copy: 120 files, 4 a second, each under the per-folder budget of its window.
		dst := filepath.Join(mp, "backup")
		if err := os.Mkdir(dst, 0o755); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 120; i++ {
			if err := os.WriteFile(filepath.Join(dst, fmt.Sprintf("doc%03d.txt", i)), []byte("quarterly numbers\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			time.Sleep(250 * time.Millisecond)
		}
		end := time.Now()
		rule := ""
		f1 := ls.wait(t, "a removable staging finding", func(l *e2eLine) bool {
			if l.Kind == "finding" && (l.RuleName == "staging_removable_many_files" || l.RuleName == "staging_removable_many_single_files") {
				rule = l.RuleName
				return true
			}
			return false
		})
		if f1.Level != "medium" {
			t.Errorf("%s at %s, want medium", rule, f1.Level)
		}
		ls.mu.Lock()
		d := ls.firstSaw[f1.ID].Sub(end)
		ls.mu.Unlock()
		lat.add(t, "slow copy (4 files/s) to a "+fstype+" stick on ~/usb", rule, f1.Level, d)
	})
	t.Run("fifteen repositories fetched by hand", func(t *testing.T) {
		if _, err := exec.LookPath("git"); err != nil {
			t.Skip("git not installed")
		}
		origin := filepath.Join(t.TempDir(), "origin")
		mustRun(t, "", "git", "init", "-q", origin)
		if err := os.WriteFile(filepath.Join(origin, "README"), []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		mustRun(t, origin, "git", "-c", "user.email=a@b", "-c", "user.name=a", "add", ".")
		mustRun(t, origin, "git", "-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q", "-m", "x")
		start := time.Now()
		for i := 0; i < 15; i++ {
			repo := filepath.Join(hidden, "r", fmt.Sprintf("repo%d", i))
			mustRun(t, "", "git", "init", "-q", repo)
			mustRun(t, repo, "git", "fetch", "-q", origin)
		}
		lat.add(t, "15 git init + git fetch", "staging_git_mass_clone", "medium",
			ls.caught(t, start, "staging_git_mass_clone", "medium", func(map[string]any) bool { return true }))
	})
}

func randomData(t *testing.T, n int) []byte {
	t.Helper()
	f, err := os.Open("/dev/urandom")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}
