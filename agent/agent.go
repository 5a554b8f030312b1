package agent

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/shirou/gopsutil/v3/host"

	"github.com/vigilhq/vigil/agent/pipeline"
	"github.com/vigilhq/vigil/agent/queue"
	"github.com/vigilhq/vigil/agent/transport"
	"github.com/vigilhq/vigil/collector"
	"github.com/vigilhq/vigil/collector/suite"
	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/internal/version"
	"github.com/vigilhq/vigil/internal/wire"
	"github.com/vigilhq/vigil/policies"
)

// agent is one running agent.
type agent struct {
	cfg    Config
	log    hclog.Logger
	state  stateDir
	client *transport.Client
	q      queue.Queue
	out    *outbox
	pipe   *pipeline.Pipeline
	limits *limiter
	facts  wire.HostFacts
	base   *policies.Ruleset // built-in pack + local rules
	start  time.Time

	retryMin, retryMax time.Duration

	checkinEvery atomic.Int64 // nanoseconds
	policyWake   chan struct{}
	reachable    chan struct{} // the server answered after failures: wake the sender
	sent         atomic.Int64
	refused      atomic.Int64 // items the server refused for good (total, seeded from status)
	prevDropped  int64        // EventsDropped total of earlier runs

	mu             sync.Mutex
	enrolled       bool
	ident          identity
	key            ed25519.PublicKey
	policyVersion  int64 // bundle in force (0: none)
	refusedVersion int64 // last bundle version refused
	policyError    string
	lastContact    time.Time
	lastError      string
	sourceErrors   []string

	up *upgrades
}

// Run runs the agent until ctx ends: it enrolls (or reuses its enrollment), starts the
// collectors and sends what they find, and returns nil after a clean stop. It returns an error
// at once for a configuration that cannot work (no server, bad rules, a state folder it cannot
// use); a server that cannot be reached is not an error: the agent queues and retries.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	a, err := newAgent(cfg)
	if err != nil {
		return err
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	a.up.stopRun = stop
	if err := a.run(ctx); err != nil {
		return err
	}
	return a.up.restartErr()
}

func newAgent(cfg Config) (*agent, error) {
	log := cfg.Logger
	if log == nil {
		log = hclog.New(&hclog.LoggerOptions{Name: "vigil-agent", Level: hclog.LevelFromString(cfg.LogLevel), Output: os.Stderr})
	}
	st, err := openState(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	client, err := transport.New(transport.Config{ServerURL: cfg.ServerURL, CAPin: cfg.CAPin, CAFile: cfg.CAFile, UserAgent: "vigil-agent/" + version.String()})
	if err != nil {
		return nil, err
	}
	a := &agent{
		cfg: cfg, log: log, state: st, client: client, start: time.Now(),
		retryMin: time.Second, retryMax: 5 * time.Minute, policyWake: make(chan struct{}, 1), reachable: make(chan struct{}, 1),
	}
	if a.up, err = newUpgrades(a); err != nil {
		return nil, err
	}
	var prevLimited int64
	if prev, err := ReadStatus(cfg.StateDir); err == nil {
		a.prevDropped, a.ident.AgentID, prevLimited = prev.EventsDropped, prev.AgentID, prev.SelfLimited
		a.refused.Store(prev.ItemsRefused)
	}
	if a.facts, err = hostFacts(cfg); err != nil {
		return nil, err
	}
	// Rules: the built-in pack and the local rules must load; a refused local rule stops the
	// agent here, as it stops `vigil scan`, rather than run without it.
	rs, problems, err := policies.Load(policies.LoadSpec{Paths: cfg.Rules, Builtin: true, PlaceholdersFile: cfg.Placeholders})
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	var errs []string
	for _, p := range append(problems, policies.UnrankedFindings(rs)...) {
		if p.Warning {
			log.Warn("rule warning", "problem", p.Error())
			continue
		}
		errs = append(errs, p.Error())
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%d rule problem(s): %s", len(errs), strings.Join(errs, "; "))
	}
	a.base = rs
	a.q, err = queue.OpenDisk(st.path(queueFile), queue.DiskOptions{MaxBytes: int64(cfg.QueueMaxMB) << 20, Logger: log.Named("queue")})
	if err != nil {
		if strings.Contains(err.Error(), "held by another process") {
			return nil, err
		}
		// A state folder that cannot hold a queue (disk full, read-only) must not blind the
		// machine: keep detecting, in memory, and say so.
		log.Error("cannot open the on-disk queue; queuing in memory (items are lost if the agent stops)", "error", err)
		a.q = queue.NewMemory(int64(cfg.QueueMaxMB) << 20)
	}
	pace := &collector.Pace{}
	a.limits = newLimiter(cfg.CPUBudget, int64(cfg.RSSBudgetMB)<<20, pace, log.Named("limits"))
	a.limits.limited.Store(prevLimited)
	a.out = newOutbox(a.q, log.Named("outbox"), openReported(st.path(reportedFile), bootID(), log.Named("reported"), time.Now))
	sources := cfg.Sources
	if sources == nil {
		s, err := suite.New(suite.Options{Only: cfg.Only, FileRoots: cfg.FileRoots, Logger: log.Named("collector"), Pace: pace})
		if err != nil {
			a.q.Close()
			return nil, err
		}
		sources = s
	}
	rules := a.base
	if r := a.lastGoodBundle(); r != nil {
		rules = r
	}
	a.pipe, err = pipeline.New(pipeline.Config{
		Sources: sources, Rules: rules, Sink: a.out, Host: a.facts.Hostname, Logger: log.Named("pipeline"), Tick: cfg.tick,
	})
	if err != nil {
		a.q.Close()
		return nil, err
	}
	return a, nil
}

func hostFacts(cfg Config) (wire.HostFacts, error) {
	f := wire.HostFacts{OS: event.LocalProduct(), Arch: runtime.GOARCH, AgentVersion: version.String(), Hostname: cfg.Hostname}
	if f.Hostname == "" {
		f.Hostname, _ = os.Hostname()
	}
	if _, _, v, err := host.PlatformInformation(); err == nil {
		f.OSVersion = v
	}
	if cfg.MachineID != "" {
		f.MachineID = cfg.MachineID
		return f, nil
	}
	id, err := machineID(cfg.StateDir)
	if err != nil {
		return f, err
	}
	f.MachineID = id
	return f, nil
}

// lastGoodBundle loads the bundle kept on disk and the key it was verified with; a bundle that
// no longer verifies or compiles (a changed built-in pack, a damaged file) is set aside with a
// log line and the base rules are used.
func (a *agent) lastGoodBundle() *policies.Ruleset {
	id, _, ok, err := a.state.enrollment(a.cfg.ServerURL)
	if err != nil || !ok {
		return nil
	}
	b, err := a.state.lastBundle()
	if err != nil {
		a.log.Error("cannot read the last policy bundle; using the built-in and local rules", "error", err)
		return nil
	}
	if b == nil {
		return nil
	}
	key, err := wire.ParseKey(id.PolicyKey)
	if err != nil {
		a.log.Error("stored policy key unusable", "error", err)
		return nil
	}
	rs, err := compileBundle(a.base, b, key)
	if err != nil {
		a.log.Error("the last policy bundle kept on disk is refused; using the built-in and local rules", "error", err)
		a.policyError = err.Error()
		return nil
	}
	a.policyVersion = b.Version
	a.log.Info("policy bundle in force from the last run", "version", b.Version, "rules", len(b.Rules), "disabled", len(b.Disabled))
	return rs
}

// ensureEnrolled loads the stored enrollment or enrolls with the secret.
func (a *agent) ensureEnrolled(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.enrolled {
		return nil
	}
	id, token, ok, err := a.state.enrollment(a.cfg.ServerURL)
	if err != nil {
		return err
	}
	if !ok {
		if a.cfg.EnrollSecret == "" {
			err := errors.New("not enrolled and no enroll secret: give --enroll-secret (or enroll_secret: in the config file)")
			a.lastError = err.Error()
			return err
		}
		resp, err := a.client.Enroll(ctx, &wire.EnrollRequest{EnrollSecret: a.cfg.EnrollSecret, Host: a.facts})
		if err != nil {
			if a.lastError != err.Error() && ctx.Err() == nil {
				a.log.Warn("enrollment failed; retrying", "server", a.cfg.ServerURL, "error", err)
			}
			a.lastError = err.Error()
			return err
		}
		if _, err := wire.ParseKey(resp.PolicyKey); err != nil {
			a.lastError = err.Error()
			return fmt.Errorf("enroll: %w", err)
		}
		id = identity{AgentID: resp.AgentID, PolicyKey: resp.PolicyKey, ServerURL: a.cfg.ServerURL, MachineID: a.facts.MachineID, Enrolled: time.Now().UTC()}
		token = resp.Token
		if err := a.state.saveEnrollment(id, token); err != nil {
			return err
		}
		a.log.Info("enrolled", "server", a.cfg.ServerURL, "agent_id", id.AgentID)
		a.lastContact, a.lastError = time.Now(), ""
		a.checkinEvery.Store(int64(resp.CheckinInterval()))
		if resp.PolicyVersion > 0 && resp.PolicyVersion != a.policyVersion {
			select {
			case a.policyWake <- struct{}{}:
			default:
			}
		}
	}
	key, err := wire.ParseKey(id.PolicyKey)
	if err != nil {
		return fmt.Errorf("stored enrollment: %w", err)
	}
	a.client.SetToken(token)
	a.ident, a.key, a.enrolled = id, key, true
	return nil
}

// dropEnrollment forgets a token the server refused; the next call enrolls again.
func (a *agent) dropEnrollment(cause error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.enrolled {
		return
	}
	a.log.Warn("the server refused the agent's token; enrolling again", "error", cause)
	a.enrolled = false
	a.client.SetToken("")
	if err := a.state.forgetEnrollment(); err != nil {
		a.log.Error("cannot remove the refused token", "error", err)
	}
}

// policyLoop fetches, verifies and applies a new bundle whenever the server announces a
// version other than the one in force.
func (a *agent) policyLoop(ctx context.Context) {
	back := transport.Backoff{Min: a.retryMin, Max: a.retryMax}
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.policyWake:
		case <-retry.C:
		}
		if err := a.updatePolicy(ctx); err != nil {
			if transport.Retryable(err) || transport.IsUnauthorized(err) {
				retry.Reset(back.Next())
				continue
			}
		}
		back.Reset()
	}
}

// updatePolicy fetches the current bundle and applies it, or refuses it (Health.PolicyError)
// and keeps the rules in force. A transport error is returned for a retry.
func (a *agent) updatePolicy(ctx context.Context) error {
	if err := a.ensureEnrolled(ctx); err != nil {
		return err
	}
	b, err := a.client.FetchPolicy(ctx)
	if err != nil {
		a.contact(wire.Directives{}, err)
		if transport.IsUnauthorized(err) {
			a.dropEnrollment(err)
		}
		return err
	}
	a.mu.Lock()
	key, current := a.key, a.policyVersion
	a.mu.Unlock()
	if b.Version == current {
		return nil
	}
	rs, err := compileBundle(a.base, b, key)
	if err == nil {
		err = a.pipe.SetRules(rs)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		a.refusedVersion, a.policyError = b.Version, err.Error()
		a.log.Error("policy bundle refused; the rules in force stay", "version", b.Version, "in_force", a.policyVersion, "error", err)
		return nil
	}
	if err := a.state.saveBundle(b); err != nil {
		a.log.Error("cannot keep the policy bundle on disk (it is in force until the agent stops)", "error", err)
	}
	a.log.Info("policy bundle applied", "version", b.Version, "previous", a.policyVersion, "rules", len(b.Rules), "disabled", len(b.Disabled))
	a.policyVersion, a.policyError, a.refusedVersion = b.Version, "", 0
	return nil
}

// health is the agent's Health now.
func (a *agent) health() *wire.Health {
	qs := a.q.Stats()
	cpu, rss, state, limited := a.limits.snapshot()
	a.mu.Lock()
	defer a.mu.Unlock()
	return &wire.Health{
		AgentVersion: version.String(), PolicyVersion: a.policyVersion,
		QueueItems: qs.Items, QueueBytes: qs.Bytes, QueueDropped: qs.Dropped,
		EventsDropped: a.prevDropped + a.out.dropped.Load(),
		SelfLimited:   limited, SelfLimitState: state, CPUPercent: cpu, RSSBytes: rss,
		PolicyError: a.policyError, StartedAt: a.start.UTC(), Upgrade: a.up.lastNote(),
	}
}

// writeStatus rewrites status.json.
func (a *agent) writeStatus() {
	h := a.health()
	a.mu.Lock()
	st := Status{
		PID: os.Getpid(), Version: version.String(), StartedAt: a.start.UTC(), UpdatedAt: time.Now().UTC(),
		Enrolled: a.enrolled, AgentID: a.ident.AgentID, LastContact: a.lastContact.UTC(), LastError: a.lastError,
		SourceErrors: a.sourceErrors, Health: *h,
		EventsDropped: h.EventsDropped, SelfLimited: h.SelfLimited, ItemsRefused: a.refused.Load(),
	}
	a.mu.Unlock()
	if err := writeJSON(a.state.path(statusFile), st); err != nil {
		a.log.Warn("cannot write the status file", "error", err)
	}
}

func (a *agent) statusLoop(ctx context.Context) {
	t := time.NewTicker(StatusInterval)
	defer t.Stop()
	for {
		a.writeStatus()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (a *agent) run(ctx context.Context) error {
	defer a.client.CloseIdle()
	a.log.Info("agent starting", "version", version.String(), "server", a.cfg.ServerURL, "state", a.cfg.StateDir,
		"host", a.facts.Hostname, "rules", a.base.Len(), "queued", a.q.Stats().Items)
	var wg sync.WaitGroup
	goFn := func(ctx context.Context, f func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); f(ctx) }()
	}
	// The pipeline stops first, then the outbox drains into the queue, then the rest.
	pipeCtx, stopPipe := context.WithCancel(ctx)
	defer stopPipe()
	outCtx, stopOut := context.WithCancel(context.Background())
	defer stopOut()
	restCtx, stopRest := context.WithCancel(context.Background())
	defer stopRest()
	outDone := make(chan struct{})
	go func() { defer close(outDone); a.out.run(outCtx) }()
	goFn(restCtx, a.send)
	goFn(restCtx, a.checkin)
	goFn(restCtx, a.policyLoop)
	goFn(restCtx, a.statusLoop)
	goFn(restCtx, a.settleMemory)
	goFn(restCtx, a.up.loop)
	if a.cfg.UpgradeTrial {
		goFn(restCtx, a.up.trial)
	}
	if !a.cfg.DisableLimits {
		goFn(restCtx, a.limits.run)
	}
	pipeDone := make(chan error, 1)
	go func() { pipeDone <- a.pipe.Run(pipeCtx) }()
	if a.cfg.Ready != nil {
		a.cfg.Ready()
	}
	var srcErr error
	select {
	case <-ctx.Done():
		srcErr = <-pipeDone
	case srcErr = <-pipeDone:
		// Every source stopped on its own: nothing left to watch.
	}
	if fails := suite.Failures(srcErr); len(fails) > 0 {
		a.mu.Lock()
		for _, f := range fails {
			a.sourceErrors = append(a.sourceErrors, f.Source+": "+f.Error())
		}
		a.mu.Unlock()
	}
	stopOut()
	<-outDone
	stopRest()
	wg.Wait()
	a.writeStatus()
	qs := a.q.Stats()
	if err := a.q.Close(); err != nil {
		a.log.Error("closing the queue", "error", err)
	}
	a.log.Info("agent stopped", "sent", a.sent.Load(), "queued", qs.Items)
	if ctx.Err() == nil && srcErr != nil {
		return fmt.Errorf("collectors stopped: %w", srcErr)
	}
	return nil
}
