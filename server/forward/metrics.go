package forward

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the forwarding figures exported at /metrics. A nil *Metrics records nothing.
type Metrics struct {
	sentTotal     *prometheus.CounterVec
	failuresTotal *prometheus.CounterVec
	pending       *prometheus.GaugeVec
}

// NewMetrics registers the forwarding metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		sentTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_forward_sent_total",
			Help: "Alerts delivered, per destination.",
		}, []string{"destination"}),
		failuresTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_forward_failures_total",
			Help: "Failed delivery attempts (each is retried with backoff), per destination.",
		}, []string{"destination"}),
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vigil_forward_pending",
			Help: "Deliveries waiting in the outbox, per destination.",
		}, []string{"destination"}),
	}
	reg.MustRegister(m.sentTotal, m.failuresTotal, m.pending)
	return m
}

func (m *Metrics) sent(dest string) {
	if m != nil {
		m.sentTotal.WithLabelValues(dest).Inc()
	}
}

func (m *Metrics) failed(dest string) {
	if m != nil {
		m.failuresTotal.WithLabelValues(dest).Inc()
	}
}

// setPending sets the pending gauge of every destination: configured ones with nothing
// waiting read 0, removed ones with nothing waiting disappear.
func (m *Metrics) setPending(st []OutboxStats, cfgs []Config) {
	if m == nil {
		return
	}
	m.pending.Reset()
	for _, c := range cfgs {
		m.pending.WithLabelValues(c.Name).Set(0)
	}
	for _, s := range st {
		m.pending.WithLabelValues(s.Destination).Set(float64(s.Pending))
	}
}
