package triage

import (
	"bytes"
	"encoding/json"

	"github.com/vigilhq/vigil/internal/event"
)

// decodeFields reads an event's stored fields; an undecodable object has no fields.
func decodeFields(raw json.RawMessage) map[string]any {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if dec.Decode(&m) != nil {
		return nil
	}
	for k, v := range m {
		m[k] = event.Normalize(v)
	}
	return m
}
