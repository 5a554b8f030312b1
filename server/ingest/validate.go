package ingest

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/vigilhq/vigil/internal/wire"
	"github.com/vigilhq/vigil/server/store"
)

// Validate checks a decoded batch and converts it to the store's items, every one stamped with
// hostID and received. The error names the first offending field (events[3].time).
func Validate(b *BatchBody, hostID string, received time.Time) (*store.Batch, *wire.Error) {
	if n := b.Items(); n > wire.MaxBatchItems {
		return nil, badField("", "%d items in one batch, more than %d", n, wire.MaxBatchItems)
	}
	out := &store.Batch{HostID: hostID}
	out.Events = make([]store.Event, 0, len(b.Events))
	seen := make(map[string]bool, len(b.Events))
	for i := range b.Events {
		e := &b.Events[i]
		f := func(name string) string { return fmt.Sprintf("events[%d].%s", i, name) }
		if e.ID == "" || len(e.ID) > maxID {
			return nil, checkLen(f("id"), e.ID, maxID, true)
		}
		t, werr := parseTime(e.Time, i)
		if werr != nil {
			return nil, werr
		}
		if len(e.Category) > maxShort || len(e.Product) > maxShort || len(e.Service) > maxShort {
			for _, c := range [...]struct{ name, v string }{{"category", e.Category}, {"product", e.Product}, {"service", e.Service}} {
				if err := checkLen(f(c.name), c.v, maxShort, false); err != nil {
					return nil, err
				}
			}
		}
		if e.Category == "" && e.Product == "" && e.Service == "" {
			return nil, badField(f("category"), "no logsource: category, product and service are all empty")
		}
		if !isObject(e.Fields) {
			return nil, badField(f("fields"), "want a JSON object")
		}
		if seen[e.ID] {
			continue // the same id twice in one batch: stored once
		}
		seen[e.ID] = true
		out.Events = append(out.Events, store.Event{HostID: hostID, ID: e.ID, Time: t, Category: e.Category,
			Product: e.Product, Service: e.Service, Fields: e.Fields, Received: received})
	}
	clear(seen)
	for i := range b.Findings {
		fd := &b.Findings[i]
		f := func(name string) string { return fmt.Sprintf("findings[%d].%s", i, name) }
		if err := checkLen(f("id"), fd.ID, maxID, true); err != nil {
			return nil, err
		}
		if err := checkLen(f("rule_id"), fd.RuleID, maxShort, true); err != nil {
			return nil, err
		}
		for name, v := range map[string]string{"rule_name": fd.RuleName, "correlation": fd.Correlation} {
			if err := checkLen(f(name), v, maxShort, false); err != nil {
				return nil, err
			}
		}
		for name, v := range map[string]string{"title": fd.Title, "author": fd.Author} {
			if err := checkLen(f(name), v, maxText, false); err != nil {
				return nil, err
			}
		}
		if !slices.Contains(Levels, fd.Level) {
			return nil, badField(f("level"), "level %q: want one of %v", truncate(fd.Level, 32), Levels)
		}
		t, werr := parseTimeField(fd.Time, f("time"))
		if werr != nil {
			return nil, werr
		}
		if len(fd.Tags) > maxTags {
			return nil, badField(f("tags"), "more than %d tags", maxTags)
		}
		for k, tag := range fd.Tags {
			if err := checkLen(fmt.Sprintf("findings[%d].tags[%d]", i, k), tag, maxShort, true); err != nil {
				return nil, err
			}
		}
		if len(fd.EventIDs) > wire.MaxEvidence {
			return nil, badField(f("event_ids"), "more than %d evidence events", wire.MaxEvidence)
		}
		for k, id := range fd.EventIDs {
			if err := checkLen(fmt.Sprintf("findings[%d].event_ids[%d]", i, k), id, maxID, true); err != nil {
				return nil, err
			}
		}
		if len(fd.Group) > maxGroupKey {
			return nil, badField(f("group"), "more than %d group-by values", maxGroupKey)
		}
		for k, v := range fd.Group {
			if len(k) > maxShort || len(v) > maxText {
				return nil, badField(f("group"), "group-by name or value too long")
			}
		}
		if fd.Count < 0 {
			return nil, badField(f("count"), "negative")
		}
		if seen[fd.ID] {
			continue
		}
		seen[fd.ID] = true
		title := fd.Title
		if title == "" {
			title = fd.RuleID
		}
		out.Findings = append(out.Findings, store.Finding{HostID: hostID, ID: fd.ID, Source: store.SourceAgent, Hosts: []string{hostID},
			RuleID: fd.RuleID, RuleName: fd.RuleName, Title: title, Level: fd.Level, Author: fd.Author, Tags: fd.Tags,
			Time: t, Received: received, EventIDs: fd.EventIDs, Group: fd.Group, Count: fd.Count, Value: fd.Value,
			Correlation: fd.Correlation, Status: store.StatusNew})
	}
	newest := map[string]int{} // kind -> index in out.Inventory
	for i := range b.Inventory {
		inv := &b.Inventory[i]
		f := func(name string) string { return fmt.Sprintf("inventory[%d].%s", i, name) }
		if err := checkLen(f("id"), inv.ID, maxID, true); err != nil {
			return nil, err
		}
		if !inventoryKinds[inv.Kind] {
			return nil, badField(f("kind"), "unknown inventory kind %q", truncate(inv.Kind, 32))
		}
		t, werr := parseTimeField(inv.Time, f("time"))
		if werr != nil {
			return nil, werr
		}
		var items []json.RawMessage
		if !isArray(inv.Items) || json.Unmarshal(inv.Items, &items) != nil {
			return nil, badField(f("items"), "want a JSON array of objects")
		}
		for k, it := range items {
			if !isObject(it) {
				return nil, badField(fmt.Sprintf("inventory[%d].items[%d]", i, k), "want a JSON object")
			}
		}
		si := store.Inventory{HostID: hostID, ID: inv.ID, Kind: inv.Kind, Time: t, Items: inv.Items, Received: received}
		// Two snapshots of one kind in a batch: the newer stands.
		if j, ok := newest[inv.Kind]; ok {
			if t.After(out.Inventory[j].Time) {
				out.Inventory[j] = si
			}
			continue
		}
		newest[inv.Kind] = len(out.Inventory)
		out.Inventory = append(out.Inventory, si)
	}
	return out, nil
}
