package server

import (
	"context"
	"time"

	"github.com/vigilhq/vigil/server/store"
)

// job is a background task that runs on one replica at a time.
type job struct {
	name  string
	every time.Duration
	run   func(ctx context.Context) error
}

func (s *Server) jobs() []job {
	return []job{
		{name: "maintain", every: time.Hour, run: func(ctx context.Context) error { return s.st.Maintain(ctx, time.Now()) }},
		{name: "retention", every: time.Hour, run: s.retention},
		{name: "sessions", every: time.Hour, run: func(ctx context.Context) error {
			_, err := s.wb.wb.PurgeSessions(ctx, time.Now())
			return err
		}},
		{name: "fleet", every: s.cfg.FleetInterval, run: func(ctx context.Context) error {
			s.loadOffice(ctx) // saved in the UI, perhaps on another replica
			_, err := s.fleet.Run(ctx)
			return err
		}},
	}
}

// runJobs runs each job every period under its cluster-wide lock, until ctx ends.
func (s *Server) runJobs(ctx context.Context) {
	done := make(chan struct{})
	jobs := s.jobs()
	for _, j := range jobs {
		go func() {
			defer func() { done <- struct{}{} }()
			t := time.NewTicker(j.every)
			defer t.Stop()
			for {
				s.runJob(ctx, j)
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}()
	}
	for range jobs {
		<-done
	}
}

func (s *Server) runJob(ctx context.Context, j job) {
	if ctx.Err() != nil {
		return
	}
	release, ok, err := s.st.TryLock(ctx, j.name)
	if err != nil {
		s.log.Warn("job lock failed", "job", j.name, "error", err)
		return
	}
	if !ok {
		s.log.Debug("job runs on another replica", "job", j.name)
		return
	}
	defer release()
	start := time.Now()
	if err := j.run(ctx); err != nil && ctx.Err() == nil {
		s.log.Error("job failed", "job", j.name, "error", err)
		return
	}
	s.log.Debug("job done", "job", j.name, "took", time.Since(start))
}

// retention deletes what each table keeps beyond its retention.
func (s *Server) retention(ctx context.Context) error {
	for _, table := range store.RetentionTables {
		days := s.retentionDays(table)
		if days <= 0 {
			continue
		}
		n, err := s.st.Purge(ctx, table, time.Now().AddDate(0, 0, -days))
		if err != nil {
			return err
		}
		if n > 0 {
			s.log.Info("retention", "table", table, "days", days, "deleted", n)
		}
	}
	return nil
}
