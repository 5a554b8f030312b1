package agent

import (
	"testing"

	"github.com/vigilhq/vigil/agent/queue"
)

// Whatever a queue file holds (a damaged item, an item from another version), turning it into
// a batch never panics: an item that does not decode is set apart, the others go.
func FuzzDecodeBatch(f *testing.F) {
	f.Add(queue.KindEvent, []byte(`{"id":"e1","time":"2026-11-22T10:00:00Z","category":"process_creation","fields":{"Image":"/usr/bin/x11vnc"}}`))
	f.Add(queue.KindFinding, []byte(`{"id":"f1","rule_id":"r","title":"t","level":"high","time":"2026-11-22T10:00:00Z","event_ids":["e1"]}`))
	f.Add(queue.KindInventory, []byte(`{"id":"i1","kind":"usb_device","time":"2026-11-22T10:00:00Z","items":[{"VendorId":"1d6b"}]}`))
	f.Add("other", []byte(`{}`))
	f.Add(queue.KindEvent, []byte(`{"fields":{"n":1e999}}`))
	f.Fuzz(func(t *testing.T, kind string, data []byte) {
		items := []queue.Item{{Seq: 1, Kind: kind, Data: data}, {Seq: 2, Kind: queue.KindFinding, Data: []byte(`{"id":"ok"}`)}}
		b, ok, bad := decodeBatch(items)
		if len(ok)+len(bad) != 2 || b.Items() != len(ok) {
			t.Fatalf("ok %v bad %v items %d", ok, bad, b.Items())
		}
	})
}
