package event

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// MaxLine is the longest JSON line DecodeLines accepts by default (16 MiB).
const MaxLine = 16 << 20

// DecodeOptions configure DecodeLines.
type DecodeOptions struct {
	// MaxLine bounds a line's length; <= 0 means MaxLine.
	MaxLine int
	// Strict makes every warning an error.
	Strict bool
	// Warn receives warnings (an unknown envelope key, a duplicate key, a null line), each
	// formatted "name:line: warning: message". Without it warnings are dropped.
	Warn func(msg string)
}

// DecodeLines reads events as JSON lines from r, calling fn with each event and its line number.
// Blank lines are skipped; a `null` line is skipped with a warning. Numbers in fields become
// int64 when integral and within int64, json.Number (keeping the literal) for integers beyond
// it, and float64 otherwise. Errors and warnings name the input and line.
func DecodeLines(name string, r io.Reader, opts DecodeOptions, fn func(line int, ev *Event) error) error {
	maxLine := opts.MaxLine
	if maxLine <= 0 {
		maxLine = MaxLine
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, min(64<<10, maxLine)), maxLine)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		ev, warns, err := Decode(b)
		if err != nil {
			return fmt.Errorf("%s:%d: %w", name, line, err)
		}
		for _, w := range warns {
			if opts.Strict {
				return fmt.Errorf("%s:%d: %s", name, line, w)
			}
			if opts.Warn != nil {
				opts.Warn(fmt.Sprintf("%s:%d: warning: %s", name, line, w))
			}
		}
		if ev == nil {
			continue
		}
		if err := fn(line, ev); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("%s:%d: line longer than %d bytes", name, line+1, maxLine)
		}
		return fmt.Errorf("%s:%d: %w", name, line+1, err)
	}
	return nil
}

// Unmarshal decodes one event from JSON as DecodeLines does, ignoring warnings; a `null` is an
// error here.
func Unmarshal(b []byte) (*Event, error) {
	ev, _, err := Decode(b)
	if err == nil && ev == nil {
		err = errors.New("an event is a JSON object, got null")
	}
	return ev, err
}

// envelopeKeys are the event's top-level keys, as docs/events.md names them.
var envelopeKeys = []string{"id", "time", "host", "category", "product", "service", "fields"}

// envelope is Event as it arrives, its time kept raw (the outer field hides Event.Time) so that
// time errors speak RFC 3339 rather than Go's layout.
type envelope struct {
	Event
	Time json.RawMessage `json:"time"`
}

// Decode decodes one event from one JSON value. Warnings are what it accepted but the input
// probably did not mean: an envelope key the schema does not have (a typo such as "categroy"),
// a key given twice (the last value is kept). A JSON null gives a nil event with a warning.
// Errors are worded in the event schema's terms.
func Decode(b []byte) (*Event, []string, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var env *envelope
	if err := dec.Decode(&env); err != nil {
		return nil, nil, describe(err)
	}
	end := int(dec.InputOffset())
	if len(bytes.TrimSpace(b[end:])) > 0 {
		return nil, nil, errors.New("more than one JSON value on the line")
	}
	b = b[:end]
	if env == nil {
		return nil, []string{"null is not an event: line skipped"}, nil
	}
	warns := checkKeys(b)
	ev := &env.Event
	if len(env.Time) > 0 && string(env.Time) != "null" {
		var s string
		if err := json.Unmarshal(env.Time, &s); err != nil {
			return nil, nil, fmt.Errorf("field \"time\": want an RFC 3339 time string (like 2026-11-22T10:00:00Z), got %s", jsonKind(env.Time))
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, nil, fmt.Errorf("field \"time\": %q is not an RFC 3339 time (like 2026-11-22T10:00:00Z)", s)
		}
		ev.Time = t
	}
	for k, v := range ev.Fields {
		ev.Fields[k] = Normalize(v)
	}
	return ev, warns, nil
}

// describe words a decoding error in the event schema's terms, not Go's.
func describe(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := strings.TrimPrefix(te.Field, "Event.")
		got := "a " + te.Value
		switch {
		case te.Value == "object" || te.Value == "array":
			got = "an " + te.Value
		case te.Value == "bool":
			got = "a boolean"
		case strings.HasPrefix(te.Value, "number"):
			got = "a number"
		}
		switch {
		case field == "":
			return fmt.Errorf("an event is a JSON object, got %s", got)
		case field == "fields":
			return fmt.Errorf("field \"fields\": want an object (field name to value), got %s", got)
		}
		return fmt.Errorf("field %q: want a string, got %s", field, got)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("invalid JSON at byte %d: %w", se.Offset, err)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("invalid JSON: unexpected end of line")
	}
	return fmt.Errorf("invalid event: %w", err)
}

func jsonKind(raw json.RawMessage) string {
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case '"':
		return "a string"
	}
	return "a number"
}

// Normalize turns json.Number values (at any depth) into int64 when integral and within int64,
// float64 when fractional or in exponent form, and keeps the literal (json.Number) of an integer
// beyond int64, whose text a float would lose.
func Normalize(v any) any {
	switch t := v.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		if !strings.ContainsAny(string(t), ".eE") {
			return t
		}
		if f, err := t.Float64(); err == nil {
			return f
		}
		return t
	case []any:
		for i := range t {
			t[i] = Normalize(t[i])
		}
	case map[string]any:
		for k := range t {
			t[k] = Normalize(t[k])
		}
	}
	return v
}

// keySet holds an object's keys: a short list scanned in order, a map past a few dozen keys.
type keySet struct {
	list []string
	m    map[string]bool
}

// add records k and reports whether it was there already.
func (ks *keySet) add(k string) bool {
	if ks.m != nil {
		dup := ks.m[k]
		ks.m[k] = true
		return dup
	}
	for _, x := range ks.list {
		if x == k {
			return true
		}
	}
	ks.list = append(ks.list, k)
	if len(ks.list) > 32 {
		ks.m = make(map[string]bool, 64)
		for _, x := range ks.list {
			ks.m[x] = true
		}
	}
	return false
}

// checkKeys scans a JSON value already known to be valid, for keys given twice in one object
// (at any depth) and for top-level keys outside the envelope: encoding/json would silently keep
// the last value, drop an unknown key, and take "Category" for "category".
func checkKeys(b []byte) []string {
	var warns []string
	type level struct {
		keys *keySet // nil for an array
		path string
	}
	var stack []level
	var lastKey string
	expectKey := false
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '{', '[':
			path := ""
			if n := len(stack); n > 0 && stack[n-1].keys != nil {
				path = joinPath(stack[n-1].path, lastKey)
			} else if n > 0 {
				path = stack[n-1].path
			}
			lv := level{path: path}
			if b[i] == '{' {
				lv.keys = &keySet{}
			}
			stack = append(stack, lv)
			expectKey = b[i] == '{'
		case '}', ']':
			stack = stack[:len(stack)-1]
			expectKey = false
		case ',':
			expectKey = len(stack) > 0 && stack[len(stack)-1].keys != nil
		case '"':
			end, escaped := i+1, false
			for ; end < len(b) && b[end] != '"'; end++ {
				if b[end] == '\\' {
					escaped = true
					end++
				}
			}
			if expectKey {
				key := string(b[i+1 : end])
				if escaped {
					_ = json.Unmarshal(b[i:end+1], &key)
				}
				top := &stack[len(stack)-1]
				if top.keys.add(key) {
					warns = append(warns, fmt.Sprintf("key %q is given twice: the last value is kept", joinPath(top.path, key)))
				}
				if len(stack) == 1 {
					if w := envelopeKeyProblem(key); w != "" {
						warns = append(warns, w)
					}
				}
				lastKey = key
				expectKey = false
			}
			i = end
		}
	}
	return warns
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// envelopeKeyProblem says what is wrong with a top-level key, or "" when it is one of the
// envelope's keys.
func envelopeKeyProblem(k string) string {
	for _, e := range envelopeKeys {
		if k == e {
			return ""
		}
	}
	for _, e := range envelopeKeys {
		if strings.EqualFold(k, e) {
			return fmt.Sprintf("key %q is read as %q: write the schema's lowercase key", k, e)
		}
	}
	return fmt.Sprintf("unknown key %q: an event's keys are %s (fields go under \"fields\")", k, strings.Join(envelopeKeys, ", "))
}
