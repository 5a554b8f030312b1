package process

import (
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/vigilhq/vigil/collector"
)

func TestHasher(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "anydesk")
	content := []byte("first version of the binary")
	if err := os.WriteFile(path, content, 0o755); err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(content)
	h := NewHasher(1024, 2)
	got, err := h.Hash(path)
	if err != nil || got != FormatSHA256(want[:]) {
		t.Fatalf("Hash = %q, %v", got, err)
	}
	if len(got) != len("SHA256=")+64 || got[:7] != "SHA256=" {
		t.Errorf("format %q", got)
	}
	for _, c := range got[7:] {
		if (c < '0' || c > '9') && (c < 'A' || c > 'F') {
			t.Fatalf("not uppercase hex: %q", got)
		}
	}

	// A cache hit does not read the file: prove it by changing the bytes behind the cache's back
	// while keeping size and mtime.
	fi, _ := os.Stat(path)
	if err := os.WriteFile(path, []byte("other version of the binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if again, _ := h.Hash(path); again != got {
		t.Errorf("cache miss on unchanged path/size/mtime")
	}
	// A new mtime is a new key: hashed again.
	later := fi.ModTime().Add(time.Second)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	sum2 := sha256.Sum256([]byte("other version of the binary"))
	if again, _ := h.Hash(path); again != FormatSHA256(sum2[:]) {
		t.Errorf("replaced binary: got %q", again)
	}

	// Bounded: at most 2 entries.
	for i := 0; i < 5; i++ {
		p := filepath.Join(dir, "bin"+strconv.Itoa(i))
		if err := os.WriteFile(p, []byte{byte(i)}, 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := h.Hash(p); err != nil {
			t.Fatal(err)
		}
	}
	if h.Len() != 2 {
		t.Errorf("cache holds %d entries, cap 2", h.Len())
	}

	// Above the size cap: an error, no read.
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, 2048), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Hash(big); !errors.Is(err, ErrTooLarge) {
		t.Errorf("big file: %v", err)
	}
	if _, err := h.Hash(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// BenchmarkHashCacheHit is the steady-state cost of hashing a known executable: one stat and a
// map lookup.
func BenchmarkHashCacheHit(b *testing.B) {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	h := NewHasher(0, 0)
	if _, err := h.Hash(exe); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := h.Hash(exe); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHashMiss is the cost of a first sight of an executable (this test binary), for scale.
func BenchmarkHashMiss(b *testing.B) {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	fi, err := os.Stat(exe)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(fi.Size())
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := NewHasher(0, 0).Hash(exe); err != nil {
			b.Fatal(err)
		}
	}
}

// While the agent is over budget the Hasher serves its cache and hashes nothing new.
func TestHasherPaused(t *testing.T) {
	dir := t.TempDir()
	known, fresh := filepath.Join(dir, "known"), filepath.Join(dir, "fresh")
	for _, p := range []string{known, fresh} {
		if err := os.WriteFile(p, []byte(p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	h := NewHasher(0, 0)
	h.Pace = &collector.Pace{}
	first, err := h.Hash(known)
	if err != nil {
		t.Fatal(err)
	}
	h.Pace.Set(4)
	if got, err := h.Hash(known); err != nil || got != first {
		t.Fatalf("cached hash while paused: %q %v", got, err)
	}
	if _, err := h.Hash(fresh); !errors.Is(err, ErrPaused) {
		t.Fatalf("new file while paused: %v", err)
	}
	h.Pace.Set(1)
	if _, err := h.Hash(fresh); err != nil {
		t.Fatalf("after the pause: %v", err)
	}
}
