package pipeline

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/internal/wire"
)

// maxNeighbors bounds the neighbour inventory: entries are never reported gone, so the oldest
// seen are forgotten beyond it.
const maxNeighbors = 1024

// inventoryKinds are the categories whose state is kept, with the key of one item and what an
// event's Action does to it.
var inventoryKinds = map[string]struct {
	key    func(f map[string]any) string
	remove string // the Action that removes an item ("" never)
}{
	event.HostInventory:  {key: func(map[string]any) string { return "host" }},
	event.USBDevice:      {key: fieldsKey("Location", "VendorId", "ProductId", "Serial"), remove: "removed"},
	event.Display:        {key: fieldsKey("Connector", "PnpId", "EdidSerial", "EdidSerialString"), remove: "removed"},
	event.RemovableMedia: {key: fieldsKey("MountPoint", "Device"), remove: "unmounted"},
	event.Neighbor:       {key: fieldsKey("Ip", "Mac", "Interface")},
}

func fieldsKey(names ...string) func(map[string]any) string {
	return func(f map[string]any) string {
		var k []byte
		for _, n := range names {
			k = fmt.Appendf(k, "%v\x00", f[n])
		}
		return string(k)
	}
}

// ItemKey is the key naming one item of an inventory kind (a USB device, a display, a mounted
// volume, a neighbour) in an event of that kind, the same for its "present", "added" and
// "removed" events; ok is false for other categories. host_inventory has one item, "host".
func ItemKey(category string, fields map[string]any) (key string, ok bool) {
	k, ok := inventoryKinds[category]
	if !ok {
		return "", false
	}
	return k.key(fields), true
}

// IsInventory reports whether events of this category make up an inventory kind.
func IsInventory(category string) bool {
	_, ok := inventoryKinds[category]
	return ok
}

// inventory is the current state of each kind, and which kinds changed since last handed out.
type inventory struct {
	kinds map[string]*kindState
}

type kindState struct {
	items   map[string]map[string]any
	order   []string // insertion order of keys (neighbours: for forgetting the oldest)
	changed time.Time
	dirty   bool
	seen    bool // an event of the kind arrived at least once
}

func newInventory() *inventory { return &inventory{kinds: map[string]*kindState{}} }

// observe applies an inventory event; it reports whether the event changed the state.
func (inv *inventory) observe(ev *event.Event, now time.Time) bool {
	k, ok := inventoryKinds[ev.Category]
	if !ok {
		return false
	}
	st := inv.kinds[ev.Category]
	if st == nil {
		st = &kindState{items: map[string]map[string]any{}}
		inv.kinds[ev.Category] = st
	}
	st.seen = true
	key := k.key(ev.Fields)
	action, _ := ev.Fields["Action"].(string)
	changed := false
	if k.remove != "" && action == k.remove {
		if _, ok := st.items[key]; ok {
			delete(st.items, key)
			st.order = slices.DeleteFunc(st.order, func(s string) bool { return s == key })
			changed = true
		}
	} else {
		item := maps.Clone(ev.Fields)
		delete(item, "Action")
		if _, ok := st.items[key]; !ok {
			st.order = append(st.order, key)
		}
		st.items[key] = item
		changed = true
		for len(st.order) > maxNeighbors {
			delete(st.items, st.order[0])
			st.order = st.order[1:]
		}
	}
	if changed || !st.dirty {
		st.dirty, st.changed = true, now
	}
	return changed
}

// due returns snapshots of the kinds that changed at least quiet ago (all changed kinds when
// quiet is 0), and marks them handed out.
func (inv *inventory) due(now time.Time, quiet time.Duration) []*wire.Inventory {
	var out []*wire.Inventory
	for _, cat := range slices.Sorted(maps.Keys(inv.kinds)) {
		st := inv.kinds[cat]
		if !st.dirty || now.Sub(st.changed) < quiet {
			continue
		}
		st.dirty = false
		out = append(out, inv.snapshot(cat, now))
	}
	return out
}

func (inv *inventory) snapshot(cat string, now time.Time) *wire.Inventory {
	st := inv.kinds[cat]
	snap := &wire.Inventory{ID: event.NewID(), Kind: cat, Time: now, Items: []map[string]any{}}
	for _, key := range st.order {
		if it, ok := st.items[key]; ok {
			snap.Items = append(snap.Items, it)
		}
	}
	return snap
}

// all returns a snapshot of every kind seen (after a restart, or when the server asks again).
func (inv *inventory) all(now time.Time) []*wire.Inventory {
	var out []*wire.Inventory
	for _, cat := range slices.Sorted(maps.Keys(inv.kinds)) {
		inv.kinds[cat].dirty = false
		out = append(out, inv.snapshot(cat, now))
	}
	return out
}
