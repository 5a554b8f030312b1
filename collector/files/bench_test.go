package files

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/event"
)

// BenchmarkPipeline measures the per-file work after writes settle: lstat, read the magic (and the
// headers of the archives among them) and account the file in its directory's window.
//
//	go test ./collector/files/ -run '^$' -bench Pipeline -benchmem
func BenchmarkPipeline(b *testing.B) {
	dir := b.TempDir()
	makeTree(b, dir, 10, 100)
	zipData := append([]byte("PK\x03\x04\x14\x00\x01\x00"), make([]byte, 64)...)
	for i := 0; i < 10; i++ {
		if err := os.WriteFile(filepath.Join(dir, "pkg000", fmt.Sprintf("a%d.zip", i)), zipData, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	var paths []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			paths = append(paths, p)
		}
		return nil
	})
	s := New(Config{Roots: []string{dir}, Excludes: []string{}})
	emitted := 0
	b.ReportAllocs()
	b.ResetTimer()
	now := time.Now()
	for i := 0; i < b.N; i++ {
		p := paths[i%len(paths)]
		s.pending[p] = &pendingFile{action: "created", last: now}
		s.settle(p, now, false)
		if len(s.outbox) > 0 {
			emitted += len(s.outbox)
			s.outbox = s.outbox[:0]
		}
		if i%len(paths) == len(paths)-1 {
			now = now.Add(s.cfg.Window) // next window
			s.agg.due(now, statSize)
			s.reported = map[string]reportedFile{}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "files/s")
	b.ReportMetric(float64(emitted)/float64(b.N), "events/file")
	_ = event.FileEvent
}

// BenchmarkWatchSetup50k measures setting up watches on a 50,000-file tree (500 directories):
// wall time, watches and the process's resident memory growth.
//
//	go test ./collector/files/ -run '^$' -bench WatchSetup -benchtime 3x
func BenchmarkWatchSetup50k(b *testing.B) {
	root := b.TempDir()
	makeTree(b, root, 500, 100)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		runtime.GC()
		rss0 := rssKB()
		t0 := time.Now()
		s := New(Config{Roots: []string{root}, Excludes: []string{}})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx, func(*event.Event) {}) }()
		for s.Stats().Watches < 501 {
			time.Sleep(time.Millisecond)
		}
		setup := time.Since(t0)
		rss1 := rssKB()
		b.ReportMetric(float64(setup.Milliseconds()), "ms-setup")
		b.ReportMetric(float64(s.Stats().Watches), "watches")
		b.ReportMetric(float64(rss1-rss0), "KB-RSS-delta")
		cancel()
		<-done
	}
}

func rssKB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			n, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			return n
		}
	}
	return 0
}
