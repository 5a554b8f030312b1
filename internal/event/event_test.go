package event

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestDecodeLines(t *testing.T) {
	in := `{"id":"a","time":"2026-11-22T10:00:00.123Z","host":"h","category":"process_creation","product":"linux","fields":{"ProcessId":4242,"Ratio":0.5,"Args":["x",1],"Nested":{"n":2}}}

{"category":"file_event","fields":{}}
`
	var got []*Event
	var lines []int
	err := DecodeLines("in.jsonl", strings.NewReader(in), DecodeOptions{}, func(line int, ev *Event) error {
		got = append(got, ev)
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || lines[1] != 3 {
		t.Fatalf("got %d events at lines %v", len(got), lines)
	}
	e := got[0]
	if e.Fields["ProcessId"] != int64(4242) || e.Fields["Ratio"] != 0.5 {
		t.Errorf("numbers not normalised: %#v", e.Fields)
	}
	if e.Fields["Args"].([]any)[1] != int64(1) || e.Fields["Nested"].(map[string]any)["n"] != int64(2) {
		t.Errorf("nested numbers not normalised: %#v", e.Fields)
	}
	if !e.Time.Equal(time.Date(2026, 11, 22, 10, 0, 0, 123e6, time.UTC)) {
		t.Errorf("time %v", e.Time)
	}
	if !got[1].Time.IsZero() || got[1].ID != "" {
		t.Errorf("absent time and id must stay zero for the caller to fill")
	}
}

func TestDecodeLinesErrors(t *testing.T) {
	cases := map[string]string{
		"{\"fields\":{}}\n{bad":                  "in.jsonl:2: invalid JSON",
		`{"time":"yesterday"}`:                   "in.jsonl:1:",
		`{"fields":[]}`:                          `in.jsonl:1: field "fields"`,
		`{"id":"a"} {"id":"b"}`:                  "in.jsonl:1: more than one JSON value",
		"{}\n" + strings.Repeat("x", 200) + "\n": "in.jsonl:2: line longer than 100 bytes",
	}
	for in, want := range cases {
		err := DecodeLines("in.jsonl", strings.NewReader(in), DecodeOptions{MaxLine: 100}, func(int, *Event) error { return nil })
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: error %v, want prefix %q", in, err, want)
		}
	}
}

// Errors speak the event schema's words, never Go's types or time layouts.
func TestDecodeErrorWording(t *testing.T) {
	cases := map[string]string{
		`{"fields":[]}`:                  `field "fields": want an object (field name to value), got an array`,
		`{"fields":"x"}`:                 `field "fields": want an object (field name to value), got a string`,
		`[1]`:                            `an event is a JSON object, got an array`,
		`"x"`:                            `an event is a JSON object, got a string`,
		`{"category":5}`:                 `field "category": want a string, got a number`,
		`{"host":{"a":1}}`:               `field "host": want a string, got an object`,
		`{"id":true}`:                    `field "id": want a string, got a boolean`,
		`{"time":"yesterday"}`:           `field "time": "yesterday" is not an RFC 3339 time (like 2026-11-22T10:00:00Z)`,
		`{"time":1700000000}`:            `field "time": want an RFC 3339 time string (like 2026-11-22T10:00:00Z), got a number`,
		`{"time":"2026-11-22 10:00:00"}`: `is not an RFC 3339 time`,
		`{"fields":{}`:                   `invalid JSON`,
	}
	for in, want := range cases {
		_, err := Unmarshal([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", in, err, want)
			continue
		}
		for _, goism := range []string{"map[string]", "interface", "event.", "2006-01-02", "Go value", "envelope"} {
			if strings.Contains(err.Error(), goism) {
				t.Errorf("%s: error %q speaks Go (%s)", in, err, goism)
			}
		}
	}
}

// An unknown envelope key, a key given twice and a null line are warnings with file:line, and
// errors under Strict.
func TestDecodeWarnings(t *testing.T) {
	in := `{"categroy":"process_creation","fields":{"Image":"/bin/sh"}}
null
{"category":"a","fields":{"X":1,"X":2,"N":{"k":1,"k":2}}}
{"Category":"b","fields":{}}
{"category":"c","fields":{"\u0041":1,"A":2}}
{"category":"d","fields":{"L":[{"a":1},{"a":2}]}}
`
	var warns []string
	var got []*Event
	err := DecodeLines("ev.jsonl", strings.NewReader(in), DecodeOptions{Warn: func(m string) { warns = append(warns, m) }},
		func(_ int, ev *Event) error { got = append(got, ev); return nil })
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`ev.jsonl:1: warning: unknown key "categroy": an event's keys are id, time, host, category, product, service, fields`,
		`ev.jsonl:2: warning: null is not an event: line skipped`,
		`ev.jsonl:3: warning: key "fields.X" is given twice: the last value is kept`,
		`ev.jsonl:3: warning: key "fields.N.k" is given twice`,
		`ev.jsonl:4: warning: key "Category" is read as "category"`,
		`ev.jsonl:5: warning: key "fields.A" is given twice`,
	}
	if len(warns) != len(want) {
		t.Fatalf("warnings:\n%s", strings.Join(warns, "\n"))
	}
	for i, w := range want {
		if !strings.HasPrefix(warns[i], w) {
			t.Errorf("warning %d: %q, want prefix %q", i, warns[i], w)
		}
	}
	if len(got) != 5 {
		t.Errorf("%d events, want 5 (the null line skipped)", len(got))
	}
	for i, line := range strings.Split(strings.TrimSpace(in), "\n")[:5] {
		err := DecodeLines("ev.jsonl", strings.NewReader(line), DecodeOptions{Strict: true}, func(int, *Event) error { return nil })
		if err == nil || !strings.HasPrefix(err.Error(), "ev.jsonl:1: ") {
			t.Errorf("strict, line %d: error %v", i+1, err)
		}
	}
	if _, err := Unmarshal([]byte("null")); err == nil {
		t.Error("Unmarshal(null): no error")
	}
}

// Integers beyond int64 keep their literal, so text comparisons and exact equality still work.
func TestDecodeBigIntegers(t *testing.T) {
	ev, err := Unmarshal([]byte(`{"fields":{"Binary":420044004500530056004300,"Max":9223372036854775807,"Neg":-9223372036854775809,"F":1.5,"E":1e3,"L":[18446744073709551616]}}`))
	if err != nil {
		t.Fatal(err)
	}
	f := ev.Fields
	if f["Binary"] != json.Number("420044004500530056004300") || f["Max"] != int64(9223372036854775807) ||
		f["Neg"] != json.Number("-9223372036854775809") || f["F"] != 1.5 || f["E"] != 1000.0 ||
		f["L"].([]any)[0] != json.Number("18446744073709551616") {
		t.Errorf("fields %#v", f)
	}
	if ev.String("Binary") != "420044004500530056004300" {
		t.Errorf("String(Binary) = %q", ev.String("Binary"))
	}
}

func TestNewAndJSON(t *testing.T) {
	e := New(ProcessCreation, map[string]any{"Image": "/bin/sh"})
	if len(e.ID) != 26 || e.Product != LocalProduct() || e.Time.IsZero() {
		t.Fatalf("bad new event %+v", e)
	}
	if e2 := New(ProcessCreation, nil); e2.ID <= e.ID {
		t.Errorf("ids must increase: %s then %s", e.ID, e2.ID)
	}
	b, _ := json.Marshal(e)
	back, err := Unmarshal(b)
	if err != nil || back.ID != e.ID || back.String("Image") != "/bin/sh" || !back.Time.Equal(e.Time) {
		t.Errorf("round trip: %v %+v", err, back)
	}
	if ProductFor("darwin") != MacOS || ProductFor("windows") != Windows {
		t.Error("ProductFor")
	}
	if err := (&Event{ID: "x"}).Validate(); err == nil {
		t.Error("an event without logsource must be invalid")
	}
}

func FuzzUnmarshal(f *testing.F) {
	f.Add([]byte(`{"id":"a","fields":{"x":[1,{"y":2.5}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if ev, err := Unmarshal(b); err == nil && ev == nil {
			t.Fatal("nil event without error")
		}
	})
}

func TestInt(t *testing.T) {
	ev := New(ProcessCreation, map[string]any{"a": 7, "b": int64(8), "c": json.Number("9"), "d": json.Number("9.5"), "e": "10"})
	for name, want := range map[string]int{"a": 7, "b": 8, "c": 9} {
		if got, ok := ev.Int(name); !ok || got != want {
			t.Errorf("Int(%s) = %d, %v; want %d", name, got, ok, want)
		}
	}
	for _, name := range []string{"d", "e", "missing"} {
		if got, ok := ev.Int(name); ok {
			t.Errorf("Int(%s) = %d, want not an integer", name, got)
		}
	}
}
