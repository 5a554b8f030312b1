package event

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// Categories Vigil emits. The Sigma ones keep their Sigma names so SigmaHQ rules apply unchanged;
// the rest are Vigil's own, documented in docs/events.md.
const (
	ProcessCreation    = "process_creation"
	ProcessTermination = "process_termination"
	NetworkConnection  = "network_connection"
	FileEvent          = "file_event"
	USBDevice          = "usb_device"
	Display            = "display"
	HostInventory      = "host_inventory"
	RemovableMedia     = "removable_media"
	Neighbor           = "neighbor"
	ImageLoad          = "image_load"
)

// Products (the Sigma logsource product of the endpoint that produced the event).
const (
	Linux   = "linux"
	MacOS   = "macos"
	Windows = "windows"
)

// Event is one observation. Category, Product and Service form its Sigma logsource; Fields hold
// the observed values, keyed by Sigma taxonomy names. Field values are strings, integers
// (int, int64, uint64...), float64, json.Number (an integer beyond int64, as decoded), bool, nil,
// []string, []any or map[string]any.
type Event struct {
	ID       string         `json:"id"`
	Time     time.Time      `json:"time"`
	Host     string         `json:"host,omitempty"`
	Category string         `json:"category,omitempty"`
	Product  string         `json:"product,omitempty"`
	Service  string         `json:"service,omitempty"`
	Fields   map[string]any `json:"fields"`
}

// New returns an event of the given category for this machine's OS, stamped now with a fresh ID.
func New(category string, fields map[string]any) *Event {
	if fields == nil {
		fields = map[string]any{}
	}
	return &Event{ID: NewID(), Time: time.Now().UTC(), Category: category, Product: LocalProduct(), Fields: fields}
}

// LocalProduct is the Sigma product name of the OS this binary runs on.
func LocalProduct() string { return ProductFor(runtime.GOOS) }

// ProductFor maps a GOOS value to its Sigma product name.
func ProductFor(goos string) string {
	switch goos {
	case "darwin", "ios":
		return MacOS
	default:
		return goos
	}
}

var (
	idMu      sync.Mutex
	idEntropy = ulid.Monotonic(rand.Reader, 0)
)

// NewID returns a new ULID: unique, and sortable by creation time. It is the idempotency key of
// events and findings end to end.
func NewID() string {
	idMu.Lock()
	defer idMu.Unlock()
	return ulid.MustNew(ulid.Timestamp(time.Now()), idEntropy).String()
}

// Get returns a field's value and whether it is present.
func (e *Event) Get(name string) (any, bool) {
	v, ok := e.Fields[name]
	return v, ok
}

// String returns a field as a string ("" when absent), formatting numbers and booleans.
func (e *Event) String(name string) string {
	v, ok := e.Fields[name]
	if !ok || v == nil {
		return ""
	}
	switch t := v.(type) {
	case string:
		return t
	case json.Number:
		return t.String()
	default:
		return fmt.Sprint(t)
	}
}

// Int returns an integer field (an int or int64 as collectors set it, a whole JSON number as
// decoding gives it) and whether it is one.
func (e *Event) Int(name string) (int, bool) {
	switch t := e.Fields[name].(type) {
	case int:
		return t, true
	case int64:
		return int(t), true
	case json.Number:
		n, err := t.Int64()
		return int(n), err == nil
	}
	return 0, false
}

// Validate reports the first problem that makes the event unusable, naming the field.
func (e *Event) Validate() error {
	if e.ID == "" {
		return fmt.Errorf("event: field id: empty")
	}
	if len(e.ID) > 128 {
		return fmt.Errorf("event %s: field id: longer than 128 bytes", e.ID[:16])
	}
	if e.Category == "" && e.Product == "" && e.Service == "" {
		return fmt.Errorf("event %s: no logsource: category, product and service are all empty", e.ID)
	}
	return nil
}
