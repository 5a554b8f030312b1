package storetest

import (
	"context"
	"fmt"
	"time"

	"github.com/vigilhq/vigil/server/store"
)

// SeedQueue fills a store with hosts hosts and perHost findings on each (levels, statuses and
// rules spread as in a busy fleet: most findings low or medium, a fifth already resolved), for
// the queue's benchmarks. It returns the hosts' ids.
func SeedQueue(ctx context.Context, s store.Store, hosts, perHost int, now time.Time) ([]string, error) {
	levels := []string{"low", "low", "medium", "medium", "medium", "high", "low", "informational", "high", "critical"}
	statuses := []string{"new", "new", "investigating", "new", "resolved"}
	ids := make([]string, 0, hosts)
	for h := range hosts {
		host, _, err := s.Enroll(ctx, store.Enrollment{MachineID: fmt.Sprintf("bench-m-%05d", h), Hostname: fmt.Sprintf("laptop-%05d", h),
			OS: []string{"linux", "macos", "windows"}[h%3], TokenHash: fmt.Sprintf("bench-t-%05d", h), Time: now})
		if err != nil {
			return nil, err
		}
		ids = append(ids, host.ID)
		b := &store.Batch{HostID: host.ID}
		for i := range perHost {
			k := h*perHost + i
			b.Findings = append(b.Findings, store.Finding{HostID: host.ID, ID: fmt.Sprintf("bf-%05d-%03d", h, i), Source: store.SourceAgent,
				RuleID: fmt.Sprintf("vigil-rule-%02d", k%40), RuleName: fmt.Sprintf("rule_%02d", k%40), Title: fmt.Sprintf("Rule %02d fired", k%40),
				Level: levels[k%len(levels)], Author: "Vigil", Tags: []string{"attack.t1219"},
				Time: now.Add(-time.Duration(k%(30*24*60)) * time.Minute), Received: now, EventIDs: []string{}, Status: statuses[(k/7)%len(statuses)]})
		}
		if _, err := s.WriteBatch(ctx, b); err != nil {
			return nil, err
		}
	}
	return ids, nil
}
