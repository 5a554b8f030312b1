package policies

import (
	"bufio"
	"encoding/json"
	"io"
	"time"

	"github.com/vigilhq/vigil/internal/event"
)

// Evaluator is `vigil policy eval`'s pipeline, events in and findings out as JSON lines, kept
// here so the command and the whole-corpus benchmark measure the same code.
type Evaluator struct {
	eng  *Engine
	bw   *bufio.Writer
	enc  *json.Encoder
	err  error
	emit func(*Finding)
	// Now stamps events without a time (default: time.Now, in UTC).
	Now func() time.Time
}

// NewEvaluator writes the findings of eng to w, one JSON object per line.
func NewEvaluator(eng *Engine, w io.Writer) *Evaluator {
	e := &Evaluator{eng: eng, bw: bufio.NewWriter(w)}
	e.enc = json.NewEncoder(e.bw)
	e.enc.SetEscapeHTML(false)
	e.emit = func(f *Finding) {
		if e.err == nil {
			e.err = e.enc.Encode(f)
		}
	}
	return e
}

// Process evaluates one event: an event without an id gets a fresh one, without a time the
// current time. It returns the first write error.
func (e *Evaluator) Process(ev *event.Event) error {
	if ev.ID == "" {
		ev.ID = event.NewID()
	}
	if ev.Time.IsZero() {
		if e.Now != nil {
			ev.Time = e.Now()
		} else {
			ev.Time = time.Now().UTC()
		}
	}
	e.eng.Process(ev, e.emit)
	return e.err
}

// Close ends the input (correlation windows still open are judged) and flushes the output.
func (e *Evaluator) Close() error {
	e.eng.Flush(e.emit)
	if e.err != nil {
		return e.err
	}
	return e.bw.Flush()
}
