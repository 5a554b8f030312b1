package process

import (
	"context"
	"sync"

	gproc "github.com/shirou/gopsutil/v3/process"
)

// Owner names the process behind a pid for other collectors (the network collector's sockets).
type Owner struct {
	PID   int
	Start int64 // creation time in ms since the epoch; tells a reused pid apart
	Image string
	User  string
}

// Resolver looks processes up by pid with a small cache keyed by pid and creation time, so a
// pid is read in full once per process. It is safe for concurrent use.
type Resolver struct {
	src   *Source
	mu    sync.Mutex
	cache map[int]Owner
}

// NewResolver returns a Resolver reading where cfg says (its ProcRoot and EtcRoot; the zero
// Config reads the live system).
func NewResolver(cfg Config) *Resolver {
	return &Resolver{src: New(Config{ProcRoot: cfg.ProcRoot, EtcRoot: cfg.EtcRoot}), cache: make(map[int]Owner)}
}

// Lookup returns the owner of pid, from the cache when the pid's creation time is unchanged.
func (r *Resolver) Lookup(ctx context.Context, pid int) (Owner, bool) {
	if pid <= 0 {
		return Owner{}, false
	}
	ctx = withRoot(ctx, r.src.cfg.ProcRoot)
	p := gproc.Process{Pid: int32(pid)}
	start, err := p.CreateTimeWithContext(ctx)
	if err != nil {
		return Owner{}, false
	}
	r.mu.Lock()
	o, ok := r.cache[pid]
	r.mu.Unlock()
	if ok && o.Start == start {
		return o, true
	}
	info, err := r.src.describe(ctx, pid)
	if err != nil {
		return Owner{}, false
	}
	o = Owner{PID: pid, Start: start, Image: info.Image, User: info.User}
	r.mu.Lock()
	r.cache[pid] = o
	r.mu.Unlock()
	return o, true
}

// Retain drops cached owners whose pid keep does not report, bounding the cache by the
// processes the caller still sees.
func (r *Resolver) Retain(keep func(pid int) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for pid := range r.cache {
		if !keep(pid) {
			delete(r.cache, pid)
		}
	}
}

// Len is the number of cached owners.
func (r *Resolver) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.cache)
}
