package process

import (
	"context"
	"os"
	"runtime"
	"testing"
)

func TestResolver(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "windows" {
		t.Skip("live lookup is exercised on Linux and Windows")
	}
	r := NewResolver(Config{})
	ctx := context.Background()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	o, ok := r.Lookup(ctx, os.Getpid())
	if !ok || o.Image != self || o.User == "" || o.Start == 0 {
		t.Fatalf("Lookup(self) = %+v, %v (want image %s)", o, ok, self)
	}
	if again, ok := r.Lookup(ctx, os.Getpid()); !ok || again != o || r.Len() != 1 {
		t.Errorf("cached lookup = %+v %v, len %d", again, ok, r.Len())
	}
	if _, ok := r.Lookup(ctx, 0); ok {
		t.Error("pid 0 resolved")
	}
	if _, ok := r.Lookup(ctx, 1<<30); ok {
		t.Error("impossible pid resolved")
	}
	r.Retain(func(int) bool { return false })
	if r.Len() != 0 {
		t.Errorf("Retain kept %d", r.Len())
	}
}

// BenchmarkResolverHit is the cost of naming a socket's known owner: one start-time read and a
// map lookup.
func BenchmarkResolverHit(b *testing.B) {
	r := NewResolver(Config{})
	ctx := context.Background()
	pid := os.Getpid()
	if _, ok := r.Lookup(ctx, pid); !ok {
		b.Fatal("lookup failed")
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		r.Lookup(ctx, pid)
	}
}
