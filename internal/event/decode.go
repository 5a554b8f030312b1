package event

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// MaxLine is the longest JSON line DecodeLines accepts by default (16 MiB).
const MaxLine = 16 << 20

// DecodeLines reads events as JSON lines from r, calling fn with each event and its line number.
// Blank lines are skipped. Numbers in fields become int64 when integral and float64 otherwise.
// Errors name the input and line. maxLine <= 0 means MaxLine.
func DecodeLines(name string, r io.Reader, maxLine int, fn func(line int, ev *Event) error) error {
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
		ev, err := Unmarshal(b)
		if err != nil {
			return fmt.Errorf("%s:%d: %w", name, line, err)
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

// Unmarshal decodes one event from JSON, normalising numbers as DecodeLines does.
func Unmarshal(b []byte) (*Event, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var ev Event
	if err := dec.Decode(&ev); err != nil {
		return nil, describe(err)
	}
	if dec.More() {
		return nil, errors.New("more than one JSON value on the line")
	}
	for k, v := range ev.Fields {
		ev.Fields[k] = Normalize(v)
	}
	return &ev, nil
}

func describe(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("field %q: %s is not a valid %s", te.Field, te.Value, te.Type)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("invalid JSON at byte %d: %w", se.Offset, err)
	}
	return fmt.Errorf("invalid event: %w", err)
}

// Normalize turns json.Number values (at any depth) into int64 or float64.
func Normalize(v any) any {
	switch t := v.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		if f, err := t.Float64(); err == nil {
			return f
		}
		return t.String()
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
