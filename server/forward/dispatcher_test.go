package forward_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilhq/vigil/server/forward"
	"github.com/vigilhq/vigil/server/forward/outboxtest"
)

func alerts(n int) []forward.Alert {
	out := make([]forward.Alert, n)
	for i := range out {
		out[i] = forward.Alert{ID: fmt.Sprintf("f%02d", i), RuleID: "vigil-rmm-anydesk", Title: "AnyDesk", Level: "high",
			Hostname: "laptop-1", Time: time.Now()}
	}
	return out
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
	healthy := newHTTPReceiver(t)
	healthy.start()
	hook := newHTTPReceiver(t)
	hec := newHTTPReceiver(t)
	sl := newStreamReceiver(t, nil)
	must(t, d.SetDestinations([]forward.Config{
		{Name: "healthy", Type: forward.TypeWebhook, Enabled: true, URL: healthy.URL()},
		{Name: "hook", Type: forward.TypeWebhook, Enabled: true, URL: hook.URL()},
		{Name: "splunk", Type: forward.TypeHEC, Enabled: true, URL: hec.URL(), Secret: "t"},
		{Name: "syslog", Type: forward.TypeSyslog, Enabled: true, Network: "tcp", Address: sl.addr},
		{Name: "critical-only", Type: forward.TypeWebhook, Enabled: true, URL: healthy.URL(),
			Filter: forward.Filter{MinLevel: "critical"}},
		{Name: "disabled", Type: forward.TypeWebhook, Enabled: false, URL: healthy.URL()},
	}))
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); d.Wait() }()
	d.Start(ctx)

	as := alerts(10)
	start := time.Now()
	must(t, d.Publish(ctx, as[:5]))
	eventually(t, "the healthy destination", func() bool { return len(healthy.findingIDs()) == 5 })
	t.Logf("healthy destination had all 5 alerts after %v, with three destinations down", time.Since(start))
	must(t, d.Publish(ctx, as[5:]))
	eventually(t, "the healthy destination", func() bool { return len(healthy.findingIDs()) == 10 })
	eventually(t, "failures counted", func() bool {
		return metric(t, reg, "vigil_forward_failures_total", "hook") >= 2
	})
	if n := len(hook.requests()) + len(hec.requests()) + len(sl.messages()); n != 0 {
		t.Fatalf("down destinations received %d", n)
	}
	want := fmt.Sprint(ids(as))
	if got := fmt.Sprint(healthy.findingIDs()); got != want {
		t.Errorf("healthy got %s, want %s", got, want)
	}

	hook.start()
	hec.start()
	sl.start()
	for name, got := range map[string]func() []string{"hook": hook.findingIDs, "splunk": hec.findingIDs, "syslog": sl.findingIDs} {
		eventually(t, name+" to catch up", func() bool { return len(got()) >= 10 })
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
	a, b := newHTTPReceiver(t), newHTTPReceiver(t)
	a.start()
	b.start()
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); d.Wait() }()
	d.Start(ctx)
	must(t, d.SetDestinations([]forward.Config{{Name: "a", Type: forward.TypeWebhook, Enabled: true, URL: a.URL()}}))
	must(t, d.Publish(ctx, alerts(2)))
	eventually(t, "a", func() bool { return len(a.findingIDs()) == 2 })
	must(t, d.SetDestinations([]forward.Config{{Name: "b", Type: forward.TypeWebhook, Enabled: true, URL: b.URL()}}))
	must(t, d.Publish(ctx, alerts(3)[2:]))
	eventually(t, "b", func() bool { return len(b.findingIDs()) == 1 })
	if len(a.findingIDs()) != 2 {
		t.Errorf("a removed but received %d", len(a.findingIDs()))
	}
	if err := forward.Test(ctx, forward.Config{Name: "t", Type: forward.TypeWebhook, URL: a.URL()}, &alerts(1)[0]); err != nil {
		t.Errorf("Test: %v", err)
	}
	if len(a.findingIDs()) != 3 {
		t.Errorf("test alert not received")
	}
}
