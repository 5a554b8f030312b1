package queue

import (
	"bytes"
	"path/filepath"
	"testing"
)

// BenchmarkDiskAppend: one committed (fsynced) append of n items of 1 KiB, as the agent's
// outbox groups them.
func BenchmarkDiskAppend(b *testing.B) {
	for _, n := range []int{1, 100} {
		b.Run(map[int]string{1: "1 item", 100: "100 items"}[n], func(b *testing.B) {
			d, err := OpenDisk(filepath.Join(b.TempDir(), "queue.db"), DiskOptions{})
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			items := make([]Item, n)
			for i := range items {
				items[i] = Item{Kind: KindEvent, Data: bytes.Repeat([]byte("x"), 1024)}
			}
			b.SetBytes(int64(n * 1024))
			b.ResetTimer()
			for range b.N {
				if err := d.Append(items...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "items/s")
		})
	}
}
