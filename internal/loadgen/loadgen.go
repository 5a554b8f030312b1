// Package loadgen simulates a fleet of agents against a Vigil server: each simulated agent
// enrolls for real, checks in at the interval the server sets and sends gzip batches of
// realistic events (process starts, network connections, file events) and, now and then, a
// finding with its evidence, plus a host inventory snapshot. A batch that fails is retried
// with the same ids until it is acknowledged, as a real agent does. It measures the latency of
// every check-in and batch. `vigil loadgen` runs it; tests use it against several replicas.
package loadgen

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/internal/tlspin"
	"github.com/vigilhq/vigil/internal/wire"
)

// Config configures a run.
type Config struct {
	// Servers are the server URLs; agent i talks to Servers[i % len].
	Servers      []string
	EnrollSecret string
	// CAPin pins the servers' CA (sha256:HEX); CACertPEM trusts a CA given directly. Neither:
	// plain http URLs only.
	CAPin     string
	CACertPEM []byte
	Agents    int
	Duration  time.Duration
	// EventsPerMin is each agent's event rate (default 60).
	EventsPerMin float64
	// BatchEvery is how often an agent sends what it gathered (default 5 s).
	BatchEvery time.Duration
	// FindingEvery makes one finding per that many events (default 200; 0 keeps the default,
	// negative sends none).
	FindingEvery int
	// CheckinEvery overrides the server's check-in interval (0: the server's).
	CheckinEvery time.Duration
	// Settle is how long after the last enrollment latencies start being recorded (0: at
	// once), so that the first batches of the last agents to enroll do not count.
	Settle time.Duration
	// EnrollConcurrency bounds parallel enrollments (default 32).
	EnrollConcurrency int
	// Conns shares this many connections per server among the agents (0: one per agent).
	Conns int
	// MachinePrefix names the simulated machines (default: random, so each run adds hosts).
	MachinePrefix string
	// Progress receives a progress line every ProgressEvery (nil: none); Terminal rewrites one
	// line in place.
	Progress      io.Writer
	ProgressEvery time.Duration
	Terminal      bool
}

// Result sums up a run.
type Result struct {
	Agents     int
	Batches    int64 // acknowledged
	Events     int64 // acknowledged, in acknowledged batches
	Findings   int64
	Accepted   int64 // as the server counted them
	Duplicates int64
	Errors     int64 // failed requests (transport errors and non-2xx answers, 429 included)
	Checkins   int64
	CheckinP50 time.Duration
	CheckinP99 time.Duration
	BatchP50   time.Duration
	BatchP99   time.Duration
	Elapsed    time.Duration
	// Steady is true when every agent's enrollment ended before the run did: the latencies
	// are then those measured after the enrollment burst; otherwise they include it.
	Steady bool
	// LastError describes the last failed request ("" when none failed).
	LastError string
	// EventIDs holds every acknowledged event id when the run was asked to keep them.
	EventIDs []string
}

// EventsPerSec is the acknowledged event rate.
func (r Result) EventsPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Events) / r.Elapsed.Seconds()
}

// Line is the summary line `vigil loadgen` ends with; p50/p99 are of check-ins once every agent
// has enrolled (and Settle has passed).
func (r Result) Line() string {
	return fmt.Sprintf("agents=%d batches=%d events=%d errors=%d p50_ms=%.1f p99_ms=%.1f events_per_s=%.0f",
		r.Agents, r.Batches, r.Events, r.Errors, ms(r.CheckinP50), ms(r.CheckinP99), r.EventsPerSec())
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

type stats struct {
	mu       sync.Mutex
	checkins []time.Duration // once steady
	batches  []time.Duration // once steady
	// During the enrollment burst, kept apart; used only when the run never got steady.
	earlyCheckins, earlyBatches []time.Duration

	nBatches, nEvents, nFindings, accepted, dups, errors, nCheckins atomic.Int64
	lastErr                                                         atomic.Value // string
	// steady is set once every agent has enrolled (or given up): latencies are recorded from
	// then on (once settled), so the enrollment burst does not count.
	steady atomic.Bool
	// settled is when, in Unix nanoseconds, steady latencies start being recorded.
	settled atomic.Int64
}

func (s *stats) record(checkin bool, d time.Duration) {
	steady := s.steady.Load()
	if steady && time.Now().UnixNano() < s.settled.Load() {
		return // settling: neither early nor steady
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case checkin && steady:
		s.checkins = append(s.checkins, d)
	case checkin:
		s.earlyCheckins = append(s.earlyCheckins, d)
	case steady:
		s.batches = append(s.batches, d)
	default:
		s.earlyBatches = append(s.earlyBatches, d)
	}
}

// latencies returns the steady latencies, or the early ones when the run never got steady.
func (s *stats) latencies() (checkins, batches []time.Duration) {
	if len(s.checkins) == 0 && !s.steady.Load() {
		return s.earlyCheckins, s.earlyBatches
	}
	return s.checkins, s.batches
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p)
	return s[i]
}

// Run simulates the fleet until Duration has passed (or ctx ends), then waits for the batches
// in flight and returns the summary.
func Run(ctx context.Context, cfg Config) (Result, error) {
	return run(ctx, cfg, false)
}

// RunKeepingIDs is Run that also returns every acknowledged event id (tests).
func RunKeepingIDs(ctx context.Context, cfg Config) (Result, error) {
	return run(ctx, cfg, true)
}

func (cfg *Config) defaults() error {
	if len(cfg.Servers) == 0 {
		return errors.New("loadgen: no server URL")
	}
	if cfg.Agents <= 0 {
		return errors.New("loadgen: want at least one agent")
	}
	if cfg.Duration <= 0 {
		return errors.New("loadgen: want a positive duration")
	}
	if cfg.EventsPerMin < 0 {
		return errors.New("loadgen: negative event rate")
	}
	if cfg.EventsPerMin == 0 {
		cfg.EventsPerMin = 60
	}
	if cfg.BatchEvery <= 0 {
		cfg.BatchEvery = 5 * time.Second
	}
	if cfg.FindingEvery == 0 {
		cfg.FindingEvery = 200
	}
	if cfg.EnrollConcurrency <= 0 {
		cfg.EnrollConcurrency = 32
	}
	if cfg.MachinePrefix == "" {
		cfg.MachinePrefix = "loadgen-" + strings.ToLower(event.NewID()[18:])
	}
	if cfg.ProgressEvery <= 0 {
		cfg.ProgressEvery = 2 * time.Second
	}
	return nil
}

func run(ctx context.Context, cfg Config, keepIDs bool) (Result, error) {
	if err := cfg.defaults(); err != nil {
		return Result{}, err
	}
	clients, err := newClients(cfg)
	if err != nil {
		return Result{}, err
	}
	st := &stats{}
	start := time.Now()
	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()

	agents := make([]*agent, cfg.Agents)
	for i := range agents {
		agents[i] = &agent{i: i, cfg: &cfg, st: st, keepIDs: keepIDs, server: cfg.Servers[i%len(cfg.Servers)],
			client: clients(i), rng: rand.New(rand.NewPCG(uint64(i), uint64(start.UnixNano())))}
	}
	// Enroll, bounded, then run each agent.
	var enrolled, tried atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, cfg.EnrollConcurrency)
	for _, a := range agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-runCtx.Done():
				return
			}
			err := a.enroll(runCtx)
			<-sem
			if tried.Add(1) == int64(cfg.Agents) {
				st.settled.Store(time.Now().Add(cfg.Settle).UnixNano())
				st.steady.Store(true)
			}
			if err != nil {
				return
			}
			enrolled.Add(1)
			a.loop(runCtx)
		}()
	}
	stopProgress := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		if cfg.Progress == nil {
			return
		}
		t := time.NewTicker(cfg.ProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-stopProgress:
				if cfg.Terminal {
					fmt.Fprintln(cfg.Progress)
				}
				return
			case <-t.C:
				st.mu.Lock()
				cl, bl := st.latencies()
				cp99, bp99 := percentile(cl, 0.99), percentile(bl, 0.99)
				st.mu.Unlock()
				line := fmt.Sprintf("%5.0fs agents=%d/%d checkins=%d batches=%d events=%d errors=%d checkin_p99_ms=%.1f batch_p99_ms=%.1f",
					time.Since(start).Seconds(), enrolled.Load(), cfg.Agents, st.nCheckins.Load(), st.nBatches.Load(), st.nEvents.Load(),
					st.errors.Load(), ms(cp99), ms(bp99))
				if cfg.Terminal {
					fmt.Fprintf(cfg.Progress, "\r\033[K%s", line)
				} else {
					fmt.Fprintln(cfg.Progress, line)
				}
			}
		}
	}()
	wg.Wait()
	close(stopProgress)
	<-progressDone
	elapsed := time.Since(start)
	res := Result{Agents: int(enrolled.Load()), Batches: st.nBatches.Load(), Events: st.nEvents.Load(), Findings: st.nFindings.Load(),
		Accepted: st.accepted.Load(), Duplicates: st.dups.Load(), Errors: st.errors.Load(), Checkins: st.nCheckins.Load(), Elapsed: elapsed}
	if e, ok := st.lastErr.Load().(string); ok {
		res.LastError = e
	}
	st.mu.Lock()
	cl, bl := st.latencies()
	res.CheckinP50, res.CheckinP99 = percentile(cl, 0.50), percentile(cl, 0.99)
	res.BatchP50, res.BatchP99 = percentile(bl, 0.50), percentile(bl, 0.99)
	res.Steady = st.steady.Load()
	st.mu.Unlock()
	if keepIDs {
		for _, a := range agents {
			res.EventIDs = append(res.EventIDs, a.acked...)
		}
	}
	if res.Agents == 0 && ctx.Err() == nil {
		return res, fmt.Errorf("loadgen: no agent enrolled (last error: %v)", lastEnrollErr(agents))
	}
	return res, nil
}

func lastEnrollErr(agents []*agent) error {
	for _, a := range agents {
		if a.enrollErr != nil {
			return a.enrollErr
		}
	}
	return errors.New("none recorded")
}

// newClients returns the HTTP client of agent i.
func newClients(cfg Config) (func(i int) *http.Client, error) {
	tlsFor := map[string]*tls.Config{}
	for _, s := range cfg.Servers {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("loadgen: server URL %q: want http(s)://HOST:PORT", s)
		}
		if u.Scheme == "http" {
			continue
		}
		var tc *tls.Config
		switch {
		case cfg.CAPin != "":
			tc, err = tlspin.Config(cfg.CAPin, u.Hostname())
			if err != nil {
				return nil, fmt.Errorf("loadgen: %w", err)
			}
		case len(cfg.CACertPEM) > 0:
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(cfg.CACertPEM) {
				return nil, errors.New("loadgen: CA certificate: no PEM certificate")
			}
			tc = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		default:
			return nil, fmt.Errorf("loadgen: %s is https: give the CA pin (--ca-pin)", s)
		}
		tlsFor[s] = tc
	}
	transport := func(server string, conns int) *http.Transport {
		return &http.Transport{
			TLSClientConfig:     tlsFor[server],
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			MaxConnsPerHost:     conns,
			IdleConnTimeout:     90 * time.Second, // below the server's idle timeout (2 min)
			TLSHandshakeTimeout: 30 * time.Second,
			DisableCompression:  true,
		}
	}
	if cfg.Conns > 0 {
		shared := map[string]*http.Client{}
		for _, s := range cfg.Servers {
			shared[s] = &http.Client{Timeout: 60 * time.Second, Transport: transport(s, cfg.Conns)}
		}
		return func(i int) *http.Client { return shared[cfg.Servers[i%len(cfg.Servers)]] }, nil
	}
	return func(i int) *http.Client {
		return &http.Client{Timeout: 60 * time.Second, Transport: transport(cfg.Servers[i%len(cfg.Servers)], 1)}
	}, nil
}

// agent is one simulated agent.
type agent struct {
	i         int
	cfg       *Config
	st        *stats
	server    string
	client    *http.Client
	rng       *rand.Rand
	token     string
	interval  time.Duration
	keepIDs   bool
	acked     []string
	enrollErr error
	pid       int
}

var errStatus = errors.New("unexpected status")

var gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}

func (a *agent) fail(err error) {
	a.st.errors.Add(1)
	a.st.lastErr.Store(err.Error())
}

// post sends body (gzip when zip) and decodes a 200 answer into out.
func (a *agent) post(ctx context.Context, path string, body any, zip bool, out any) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	var rd io.Reader = bytes.NewReader(raw)
	if zip {
		var buf bytes.Buffer
		// A gzip writer holds about a megabyte of state: thousands of agents share a few,
		// or the generator spends its CPU collecting them.
		zw := gzipWriters.Get().(*gzip.Writer)
		zw.Reset(&buf)
		_, _ = zw.Write(raw)
		_ = zw.Close()
		gzipWriters.Put(zw)
		rd = &buf
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.server+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if zip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	res, err := a.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %w %d: %s", path, errStatus, res.StatusCode, strings.TrimSpace(string(b)))
	}
	return json.Unmarshal(b, out)
}

func (a *agent) enroll(ctx context.Context) error {
	var er wire.EnrollResponse
	for attempt := 0; ; attempt++ {
		err := a.post(ctx, wire.PathEnroll, wire.EnrollRequest{EnrollSecret: a.cfg.EnrollSecret, Host: wire.HostFacts{
			MachineID: fmt.Sprintf("%s-%06d", a.cfg.MachinePrefix, a.i), Hostname: fmt.Sprintf("%s-%06d", a.cfg.MachinePrefix, a.i),
			OS: "linux", OSVersion: "Debian 12", Arch: "amd64", AgentVersion: "loadgen"}}, false, &er)
		if err == nil {
			break
		}
		a.fail(err)
		a.enrollErr = err
		if ctx.Err() != nil || attempt >= 5 {
			return err
		}
		if !sleep(ctx, time.Duration(attempt+1)*time.Second) {
			return ctx.Err()
		}
	}
	a.token = er.Token
	a.interval = er.CheckinInterval()
	if a.cfg.CheckinEvery > 0 {
		a.interval = a.cfg.CheckinEvery
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// loop checks in and sends batches until ctx ends, then sends what it still holds (retrying
// for a short grace period).
func (a *agent) loop(ctx context.Context) {
	// Spread the agents over the intervals.
	nextCheckin := time.Now().Add(time.Duration(a.rng.Int64N(int64(a.interval))))
	nextBatch := time.Now().Add(time.Duration(a.rng.Int64N(int64(a.cfg.BatchEvery))))
	pending := a.inventory()
	gathered := 0.0
	last := time.Now()
	for {
		next := nextCheckin
		if nextBatch.Before(next) {
			next = nextBatch
		}
		wait := time.Until(next)
		if !sleep(ctx, max(wait, 0)) {
			break
		}
		now := time.Now()
		if !now.Before(nextCheckin) {
			a.checkin(ctx)
			nextCheckin = nextCheckin.Add(a.interval)
		}
		if !now.Before(nextBatch) {
			gathered += a.cfg.EventsPerMin * now.Sub(last).Minutes()
			last = now
			n := int(gathered)
			gathered -= float64(n)
			if pending.Items()+n > wire.MaxBatchItems/2 {
				n = max(0, wire.MaxBatchItems/2-pending.Items()) // the server is not taking them: gather no more
			}
			a.gather(&pending, n)
			if pending.Items() > 0 && a.send(ctx, &pending) {
				pending = wire.Batch{}
			}
			nextBatch = nextBatch.Add(a.cfg.BatchEvery)
		}
	}
	// Drain: a batch already gathered is sent, with retries, for up to 30 s.
	if pending.Items() > 0 {
		grace, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		for grace.Err() == nil && !a.send(grace, &pending) {
			sleep(grace, 500*time.Millisecond)
		}
	}
}

func (a *agent) checkin(ctx context.Context) {
	start := time.Now()
	var cr wire.CheckinResponse
	err := a.post(ctx, wire.PathCheckin, wire.CheckinRequest{Health: wire.Health{AgentVersion: "loadgen", QueueItems: int64(a.rng.IntN(10))}}, false, &cr)
	if err != nil {
		if ctx.Err() == nil {
			a.fail(err)
		}
		return
	}
	a.st.nCheckins.Add(1)
	a.st.record(true, time.Since(start))
}

// send posts the batch; true once acknowledged.
func (a *agent) send(ctx context.Context, b *wire.Batch) bool {
	start := time.Now()
	var br wire.BatchResponse
	if err := a.post(ctx, wire.PathBatch, b, true, &br); err != nil {
		if ctx.Err() == nil {
			a.fail(err)
		}
		return false
	}
	a.st.record(false, time.Since(start))
	a.st.nBatches.Add(1)
	a.st.nEvents.Add(int64(len(b.Events)))
	a.st.nFindings.Add(int64(len(b.Findings)))
	a.st.accepted.Add(int64(br.Accepted))
	a.st.dups.Add(int64(br.Duplicates))
	if a.keepIDs {
		for _, e := range b.Events {
			a.acked = append(a.acked, e.ID)
		}
	}
	return true
}
