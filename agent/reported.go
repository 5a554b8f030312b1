package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigilhq/vigil/agent/pipeline"
	"github.com/vigilhq/vigil/internal/event"
)

// A restart must not report again what an earlier run already did. On start the collectors
// report the state they find (processes already running, sockets already open, devices already
// plugged in, the host's settings): a finding made only of such start-up events, whose key an
// earlier run recorded within reportedTTL, is not sent again. A new occurrence still is: a
// process started again, a socket opened again, a device plugged in again arrive as live events,
// which are never held back, and a reboot makes every process and socket new.

// Defaults of the reported-findings memory.
const (
	reportedTTL  = 7 * 24 * time.Hour // an unchanged situation is reported again after a restart at most this often
	reportedMax  = 10000              // keys kept; the oldest go first
	reportedFile = "reported.json"
)

// reported is the memory of the findings queued by this run and earlier ones, kept in the state
// folder. Its methods are safe for concurrent use.
type reported struct {
	path string
	boot string // this boot's identity: processes and sockets are new after a reboot
	log  hclog.Logger
	now  func() time.Time

	mu    sync.Mutex
	keys  map[string]time.Time // key -> when first reported (within the TTL)
	dirty bool
}

// reportedState is reported.json.
type reportedState struct {
	Version int                  `json:"version"`
	Keys    map[string]time.Time `json:"keys"`
}

// openReported loads the memory; a missing file is an empty memory, a damaged one is logged and
// replaced (the worst outcome is findings reported once more).
func openReported(path, boot string, log hclog.Logger, now func() time.Time) *reported {
	r := &reported{path: path, boot: boot, log: log, now: now, keys: map[string]time.Time{}}
	var st reportedState
	ok, err := readJSON(path, &st)
	switch {
	case err != nil:
		log.Warn("the memory of reported findings is unreadable; starting afresh (findings about the start-up state may be reported again)", "file", path, "error", err)
	case ok && st.Version != 1:
		log.Warn("the memory of reported findings has an unknown version; starting afresh", "file", path, "version", st.Version)
	case ok:
		cut := now().Add(-reportedTTL)
		for k, t := range st.Keys {
			if t.After(cut) {
				r.keys[k] = t
			}
		}
	}
	return r
}

// check decides whether a finding leaves: false for a finding made only of start-up events that
// an earlier run (or this one) already reported within the TTL. key names the finding for record
// ("" when it cannot be named).
func (r *reported) check(f *pipeline.Finding, startup func(*event.Event) bool) (key string, send bool) {
	key, allStartup, ok := r.key(f, startup)
	if !ok {
		return "", true
	}
	if !allStartup {
		return key, true // a live occurrence is always reported
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	at, seen := r.keys[key]
	return key, !seen || r.now().Sub(at) >= reportedTTL
}

// record remembers the keys of findings now committed to the queue (a key already remembered
// keeps the time of its first report, so the TTL counts from there); save writes them.
func (r *reported) record(keys []string) {
	now := r.now()
	r.mu.Lock()
	for _, k := range keys {
		if at, seen := r.keys[k]; k == "" || (seen && now.Sub(at) < reportedTTL) {
			continue
		}
		r.keys[k] = now
		r.dirty = true
	}
	if len(r.keys) > reportedMax {
		r.evictLocked()
	}
	r.mu.Unlock()
}

// evictLocked drops the oldest keys down to 90 % of reportedMax.
func (r *reported) evictLocked() {
	type kt struct {
		k string
		t time.Time
	}
	all := make([]kt, 0, len(r.keys))
	for k, t := range r.keys {
		all = append(all, kt{k, t})
	}
	slices.SortFunc(all, func(a, b kt) int { return a.t.Compare(b.t) })
	for _, e := range all[:len(all)-reportedMax*9/10] {
		delete(r.keys, e.k)
	}
}

// save writes the memory if it changed since the last save.
func (r *reported) save() {
	r.mu.Lock()
	if !r.dirty {
		r.mu.Unlock()
		return
	}
	st := reportedState{Version: 1, Keys: maps.Clone(r.keys)}
	r.dirty = false
	r.mu.Unlock()
	b, err := json.Marshal(st)
	if err == nil {
		err = writeFileAtomic(r.path, b, 0o600)
	}
	if err != nil {
		r.log.Warn("cannot save the memory of reported findings (a restart may report them again)", "file", r.path, "error", err)
		r.mu.Lock()
		r.dirty = true
		r.mu.Unlock()
	}
}

// key names what a finding is about: its rule, its correlation group and the identity of each
// event behind it (eventIdentity). allStartup tells whether every one of those events describes the
// state found at start-up; ok is false when the finding's events are not all held (evicted
// evidence), which leaves it unnamed and always reported.
func (r *reported) key(f *pipeline.Finding, startup func(*event.Event) bool) (key string, allStartup, ok bool) {
	if len(f.Evidence) == 0 || len(f.Evidence) < len(f.EventIDs) {
		return "", false, false
	}
	ids := make([]string, 0, len(f.Evidence))
	allStartup = true
	for _, ev := range f.Evidence {
		ids = append(ids, eventIdentity(ev, r.boot))
		allStartup = allStartup && startup(ev)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", f.RuleID, f.Group)
	for _, id := range ids {
		fmt.Fprintf(h, "%s\x00", id)
	}
	return hex.EncodeToString(h.Sum(nil)[:16]), allStartup, true
}

// eventIdentity names what an event is about, the same in the live event and in the start-up event of
// a later run: a process by its pid, executable and command line in this boot (its parent, read
// later, may have exited); a socket by its ends and owner in this boot (its state moves on); a
// loaded library by the executable and the library; a device, display, volume or neighbour by its
// inventory key; anything else by all its fields but Action and Snapshot.
func eventIdentity(ev *event.Event, boot string) string {
	f := ev.Fields
	switch ev.Category {
	case event.ProcessCreation:
		return fmt.Sprintf("process\x00%s\x00%v\x00%v\x00%v", boot, f["ProcessId"], f["Image"], f["CommandLine"])
	case event.NetworkConnection:
		return fmt.Sprintf("socket\x00%s\x00%v\x00%v\x00%v\x00%v\x00%v\x00%v", boot, f["Protocol"], f["SourceIp"], f["SourcePort"], f["DestinationIp"], f["DestinationPort"], f["ProcessId"])
	case event.ImageLoad:
		return fmt.Sprintf("library\x00%v\x00%v", f["Image"], f["ImageLoaded"])
	}
	if k, ok := pipeline.ItemKey(ev.Category, f); ok && ev.Category != event.HostInventory {
		return ev.Category + "\x00" + k
	}
	names := slices.Sorted(maps.Keys(f))
	b := []byte(ev.Category)
	for _, n := range names {
		if n == "Action" || n == "Snapshot" {
			continue
		}
		v, _ := json.Marshal(f[n])
		b = fmt.Appendf(b, "\x00%s=%s", n, v)
	}
	return string(b)
}

// isStartupEvent tells whether an event describes state found when a collector started: a
// process already running or a socket already open (Snapshot), a device, display, volume or
// neighbour already there (Action "present").
func isStartupEvent(ev *event.Event) bool {
	if s, _ := ev.Fields["Snapshot"].(bool); s {
		return true
	}
	return ev.String("Action") == "present"
}
