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
	err := DecodeLines("in.jsonl", strings.NewReader(in), 0, func(line int, ev *Event) error {
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
		err := DecodeLines("in.jsonl", strings.NewReader(in), 100, func(int, *Event) error { return nil })
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: error %v, want prefix %q", in, err, want)
		}
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
