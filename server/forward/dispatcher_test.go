package forward_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilhq/vigil/server/forward"
	"github.com/vigilhq/vigil/server/forward/outboxtest"
)

// recorder is a loopback HTTP receiver that can be down (its port closed) and come back on the
// same address. It records the finding ids it received, from webhook and HEC bodies alike.
type recorder struct {
	t    *testing.T
	addr string
	mu   sync.Mutex
	ids  []string
	srv  *http.Server
}

func newRecorder(t *testing.T, up bool) *recorder {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{t: t, addr: ln.Addr().String()}
	if up {
		r.serve(ln)
	} else {
		ln.Close()
	}
	return r
}

func (r *recorder) up() {
	var ln net.Listener
	var err error
	for range 100 {
		if ln, err = net.Listen("tcp", r.addr); err == nil {
			r.serve(ln)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.t.Fatalf("listen %s again: %v", r.addr, err)
}

func (r *recorder) serve(ln net.Listener) {
	r.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		var body struct {
			ID    string `json:"id"`
			Event *struct {
				ID string `json:"id"`
			} `json:"event"`
		}
		if err := json.Unmarshal(b, &body); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		id := body.ID
		if body.Event != nil {
			id = body.Event.ID
		}
		r.mu.Lock()
		r.ids = append(r.ids, id)
		r.mu.Unlock()
	})}
	go func() { _ = r.srv.Serve(ln) }()
	r.t.Cleanup(func() { r.srv.Close() })
}

func (r *recorder) received() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ids)
}

// syslogDown is a TCP syslog receiver that starts down and counts the frames it gets once up.
type syslogDown struct {
	addr string
	mu   sync.Mutex
	ids  []string
}

func (s *syslogDown) up(t *testing.T) {
	var ln net.Listener
	var err error
	for range 100 {
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("listen %s: %v", s.addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 1<<16)
				var acc string
				for {
					n, err := c.Read(buf)
					acc += string(buf[:n])
					for {
						i := strings.Index(acc, ` id="`)
						if i < 0 {
							break
						}
						rest := acc[i+5:]
						j := strings.IndexByte(rest, '"')
						if j < 0 {
							break
						}
						s.mu.Lock()
						s.ids = append(s.ids, rest[:j])
						s.mu.Unlock()
						acc = rest[j:]
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
}

func (s *syslogDown) received() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ids)
}

func alerts(n int) []forward.Alert {
	out := make([]forward.Alert, n)
	for i := range out {
		out[i] = forward.Alert{ID: fmt.Sprintf("f%02d", i), RuleID: "vigil-rmm-anydesk", Title: "AnyDesk", Level: "high",
			Hostname: "laptop-1", Time: time.Now()}
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDownDestinationDelaysNothingElse: a webhook, a HEC collector and a syslog receiver are
// down while a healthy webhook gets every alert; when each comes back it gets every alert it
// missed, once and in order; the failures are counted in the metrics.
func TestDownDestinationDelaysNothingElse(t *testing.T) {
	ob := &outboxtest.Memory{}
	reg := prometheus.NewRegistry()
	d := forward.NewDispatcher(ob, forward.Options{
		Logger:  hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: testWriter{t}}),
		Backoff: forward.Backoff{Base: 20 * time.Millisecond, Max: 200 * time.Millisecond},
		Poll:    50 * time.Millisecond,
		Metrics: forward.NewMetrics(reg),
	})
	healthy := newRecorder(t, true)
	hook := newRecorder(t, false)
	hec := newRecorder(t, false)
	sl := &syslogDown{addr: newRecorder(t, false).addr}
	must(t, d.SetDestinations([]forward.Config{
		{Name: "healthy", Type: forward.TypeWebhook, Enabled: true, URL: "http://" + healthy.addr},
		{Name: "hook", Type: forward.TypeWebhook, Enabled: true, URL: "http://" + hook.addr},
		{Name: "splunk", Type: forward.TypeHEC, Enabled: true, URL: "http://" + hec.addr, Secret: "t"},
		{Name: "syslog", Type: forward.TypeSyslog, Enabled: true, Network: "tcp", Address: sl.addr},
		{Name: "critical-only", Type: forward.TypeWebhook, Enabled: true, URL: "http://" + healthy.addr,
			Filter: forward.Filter{MinLevel: "critical"}},
		{Name: "disabled", Type: forward.TypeWebhook, Enabled: false, URL: "http://" + healthy.addr},
	}))
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); d.Wait() }()
	d.Start(ctx)

	as := alerts(10)
	start := time.Now()
	must(t, d.Publish(ctx, as[:5]))
	waitFor(t, "the healthy destination", func() bool { return len(healthy.received()) == 5 })
	t.Logf("healthy destination had all 5 alerts after %v, with three destinations down", time.Since(start))
	must(t, d.Publish(ctx, as[5:]))
	waitFor(t, "the healthy destination", func() bool { return len(healthy.received()) == 10 })
	waitFor(t, "failures counted", func() bool {
		return metric(t, reg, "vigil_forward_failures_total", "hook") >= 2
	})
	if n := len(hook.received()) + len(hec.received()) + len(sl.received()); n != 0 {
		t.Fatalf("down destinations received %d", n)
	}
	want := fmt.Sprint(ids(as))
	if got := fmt.Sprint(healthy.received()); got != want {
		t.Errorf("healthy got %s, want %s", got, want)
	}

	hook.up()
	hec.up()
	sl.up(t)
	for name, got := range map[string]func() []string{"hook": hook.received, "splunk": hec.received, "syslog": sl.received} {
		waitFor(t, name+" to catch up", func() bool { return len(got()) >= 10 })
		if fmt.Sprint(got()) != want {
			t.Errorf("%s got %v, want %s (every alert, once, in order)", name, got(), want)
		}
	}
	st, err := ob.Stats(ctx)
	must(t, err)
	if len(st) != 0 {
		t.Errorf("outbox not empty: %+v", st)
	}
	if n := metric(t, reg, "vigil_forward_sent_total", "healthy"); n != 10 {
		t.Errorf("sent_total{healthy} = %v", n)
	}
}

// metric reads one destination's series of a counter or gauge from the registry.
func metric(t *testing.T, reg *prometheus.Registry, name, dest string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	must(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "destination" && l.GetValue() == dest {
					return m.GetCounter().GetValue() + m.GetGauge().GetValue()
				}
			}
		}
	}
	return 0
}

func ids(as []forward.Alert) []string {
	out := make([]string, len(as))
	for i := range as {
		out[i] = as[i].ID
	}
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func TestRouteFilters(t *testing.T) {
	d := forward.NewDispatcher(&outboxtest.Memory{}, forward.Options{})
	must(t, d.SetDestinations([]forward.Config{
		{Name: "all", Type: forward.TypeWebhook, Enabled: true, URL: "http://127.0.0.1:1"},
		{Name: "crit", Type: forward.TypeWebhook, Enabled: true, URL: "http://127.0.0.1:1", Filter: forward.Filter{MinLevel: "critical"}},
		{Name: "kvm", Type: forward.TypeWebhook, Enabled: true, URL: "http://127.0.0.1:1", Filter: forward.Filter{Rules: []string{"vigil-kvm-*"}}},
		{Name: "off", Type: forward.TypeWebhook, URL: "http://127.0.0.1:1"},
	}))
	as := []forward.Alert{
		{ID: "a", RuleID: "vigil-kvm-pikvm", Level: "critical"},
		{ID: "b", RuleID: "vigil-rmm-anydesk", Level: "high"},
	}
	ds, err := d.Route(as)
	must(t, err)
	var got []string
	for _, dl := range ds {
		got = append(got, dl.Destination+":"+dl.FindingID)
	}
	if fmt.Sprint(got) != "[all:a crit:a kvm:a all:b]" {
		t.Errorf("routes %v", got)
	}
	if err := d.SetDestinations([]forward.Config{{Name: "bad", Type: "email"}}); err == nil {
		t.Error("invalid destination accepted")
	}
}

// TestReplaceDestinations: changing the destinations while running stops the old workers and
// starts new ones; deliveries already waiting for a kept destination still arrive.
func TestReplaceDestinations(t *testing.T) {
	ob := &outboxtest.Memory{}
	d := forward.NewDispatcher(ob, forward.Options{Poll: 50 * time.Millisecond,
		Backoff: forward.Backoff{Base: 20 * time.Millisecond, Max: 100 * time.Millisecond}})
	a, b := newRecorder(t, true), newRecorder(t, true)
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); d.Wait() }()
	d.Start(ctx)
	must(t, d.SetDestinations([]forward.Config{{Name: "a", Type: forward.TypeWebhook, Enabled: true, URL: "http://" + a.addr}}))
	must(t, d.Publish(ctx, alerts(2)))
	waitFor(t, "a", func() bool { return len(a.received()) == 2 })
	must(t, d.SetDestinations([]forward.Config{{Name: "b", Type: forward.TypeWebhook, Enabled: true, URL: "http://" + b.addr}}))
	must(t, d.Publish(ctx, alerts(3)[2:]))
	waitFor(t, "b", func() bool { return len(b.received()) == 1 })
	if len(a.received()) != 2 {
		t.Errorf("a removed but received %d", len(a.received()))
	}
	if err := forward.Test(ctx, forward.Config{Name: "t", Type: forward.TypeWebhook, URL: "http://" + a.addr}, &alerts(1)[0]); err != nil {
		t.Errorf("Test: %v", err)
	}
	if len(a.received()) != 3 {
		t.Errorf("test alert not received")
	}
}
