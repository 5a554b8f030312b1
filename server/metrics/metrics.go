// Package metrics defines the server's Prometheus metrics (all named vigil_...) and serves them
// at /metrics: ingest counts and batch latency, agents online, findings by level, queue depths
// (agents' on-disk queues, the triage queue, the forwarding outbox), forwarding failures and
// HTTP latencies per route. Counters and histograms are updated by the parts that do the work;
// the gauges that describe stored state are read from the store when Prometheus scrapes, at most
// once per CacheFor, so a scrape never costs more than one set of cheap queries.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// State is the stored state the gauges report, read at scrape time.
type State struct {
	HostsTotal   int
	AgentsOnline int
	// AgentQueueItems sums the items waiting in the agents' on-disk queues (their last report).
	AgentQueueItems int64
	// AgentQueueDropped sums the items agents dropped because their queue was full (totals).
	AgentQueueDropped int64
	// OpenFindings counts findings by level whose status is new or investigating.
	OpenFindings map[string]int
	// NewFindings counts findings waiting for triage (status new).
	NewFindings int
}

// StateFunc reads State from the store.
type StateFunc func(ctx context.Context) (State, error)

// Metrics holds the server's collectors.
type Metrics struct {
	Registry *prometheus.Registry

	ingestBatches *prometheus.CounterVec
	ingestItems   *prometheus.CounterVec
	batchSeconds  prometheus.Histogram
	findingsTotal *prometheus.CounterVec
	suppressed    prometheus.Counter
	httpSeconds   *prometheus.HistogramVec
	loginFailures prometheus.Counter
	state         *stateCollector
}

// CacheFor is how long a State read serves scrapes.
const CacheFor = 10 * time.Second

// New registers the metrics (and the Go runtime and process collectors) in a new registry.
// state may be nil (no state gauges).
func New(state StateFunc, log hclog.Logger) *Metrics {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		ingestBatches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_ingest_batches_total", Help: "Agent batches received, by outcome (ok, error).",
		}, []string{"outcome"}),
		ingestItems: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_ingest_items_total", Help: "Items stored from agent batches, by kind (event, finding, inventory) and whether new or a duplicate.",
		}, []string{"kind", "result"}),
		batchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "vigil_ingest_batch_seconds", Help: "Time to validate and commit one agent batch.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
		findingsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_findings_total", Help: "New findings stored, by level and source (agent, fleet).",
		}, []string{"level", "source"}),
		suppressed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_findings_suppressed_total", Help: "New findings closed on arrival by a suppression.",
		}),
		httpSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "vigil_http_request_duration_seconds", Help: "HTTP request latency, by route operation, method and status code.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"op", "method", "code"}),
		loginFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_login_failures_total", Help: "Failed sign-in attempts (wrong password, unknown user, rate-limited).",
		}),
	}
	reg.MustRegister(m.ingestBatches, m.ingestItems, m.batchSeconds, m.findingsTotal, m.suppressed, m.httpSeconds,
		m.loginFailures, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if state != nil {
		m.state = newStateCollector(state, log.Named("metrics"))
		reg.MustRegister(m.state)
	}
	return m
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// BatchDone records one agent batch request: how long it took and whether it was stored.
func (m *Metrics) BatchDone(d time.Duration, ok bool) {
	if m == nil {
		return
	}
	m.batchSeconds.Observe(d.Seconds())
	outcome := "ok"
	if !ok {
		outcome = "error"
	}
	m.ingestBatches.WithLabelValues(outcome).Inc()
}

// BatchItems records what a committed batch stored, and what it carried that was stored before.
func (m *Metrics) BatchItems(events, findings, inventory, duplicates int) {
	if m == nil {
		return
	}
	m.ingestItems.WithLabelValues("event", "new").Add(float64(events))
	m.ingestItems.WithLabelValues("finding", "new").Add(float64(findings))
	m.ingestItems.WithLabelValues("inventory", "new").Add(float64(inventory))
	m.ingestItems.WithLabelValues("any", "duplicate").Add(float64(duplicates))
}

// Finding records one new finding stored.
func (m *Metrics) Finding(level, source string, suppressed bool) {
	if m == nil {
		return
	}
	m.findingsTotal.WithLabelValues(level, source).Inc()
	if suppressed {
		m.suppressed.Inc()
	}
}

// LoginFailed records a failed sign-in.
func (m *Metrics) LoginFailed() {
	if m != nil {
		m.loginFailures.Inc()
	}
}

// ObserveHTTP records one request's latency under its route's operation name.
func (m *Metrics) ObserveHTTP(op, method string, code int, d time.Duration) {
	if m == nil {
		return
	}
	m.httpSeconds.WithLabelValues(op, method, strconv.Itoa(code)).Observe(d.Seconds())
}

// stateCollector reads State at scrape time, cached for CacheFor.
type stateCollector struct {
	read StateFunc
	log  hclog.Logger

	mu      sync.Mutex
	at      time.Time
	last    State
	lastErr error

	hosts, online, queueItems, queueDropped, newFindings, open, up *prometheus.Desc
}

func newStateCollector(read StateFunc, log hclog.Logger) *stateCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &stateCollector{read: read, log: log,
		hosts:        d("vigil_hosts", "Enrolled hosts."),
		online:       d("vigil_agents_online", "Hosts heard from within three check-in intervals."),
		queueItems:   d("vigil_agent_queue_items", "Items waiting in the agents' on-disk queues, summed over their last reports."),
		queueDropped: d("vigil_agent_queue_dropped", "Items agents dropped because their queue was full, summed totals."),
		newFindings:  d("vigil_triage_queue", "Findings waiting for triage (status new)."),
		open:         d("vigil_findings_open", "Open findings (new or investigating), by level.", "level"),
		up:           d("vigil_store_up", "1 when the last read of the store's state succeeded."),
	}
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.hosts, c.online, c.queueItems, c.queueDropped, c.newFindings, c.open, c.up} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	if time.Since(c.at) > CacheFor {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c.last, c.lastErr = c.read(ctx)
		cancel()
		c.at = time.Now()
		if c.lastErr != nil {
			c.log.Warn("reading state for /metrics", "error", c.lastErr)
		}
	}
	s, err := c.last, c.lastErr
	c.mu.Unlock()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	if err != nil {
		gauge(c.up, 0)
		return
	}
	gauge(c.up, 1)
	gauge(c.hosts, float64(s.HostsTotal))
	gauge(c.online, float64(s.AgentsOnline))
	gauge(c.queueItems, float64(s.AgentQueueItems))
	gauge(c.queueDropped, float64(s.AgentQueueDropped))
	gauge(c.newFindings, float64(s.NewFindings))
	for _, level := range []string{"informational", "low", "medium", "high", "critical"} {
		gauge(c.open, float64(s.OpenFindings[level]), level)
	}
}
