package agent

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/vigilhq/vigil/installer/service"
	"github.com/vigilhq/vigil/installer/upgrade"
	"github.com/vigilhq/vigil/internal/version"
	"github.com/vigilhq/vigil/internal/wire"
)

// DefaultTrialTimeout is how long an upgrade on trial has to hear from the server.
const DefaultTrialTimeout = 5 * time.Minute

// transientRetry spaces attempts at an offer that failed for a reason that may pass (the
// server could not be reached); refusedRetry those at an offer that was refused (the admin may
// fix the repository meanwhile).
const (
	transientRetry = 10 * time.Minute
	refusedRetry   = time.Hour
)

// RestartError ends Run when the agent stops to start again on a verified upgrade (or on its
// previous version after a failed trial): the process exits with service.ExitRestart, which
// every service definition restarts on.
type RestartError struct{ Reason string }

func (e *RestartError) Error() string { return "restart: " + e.Reason }

// ExitCode is the process's exit status.
func (e *RestartError) ExitCode() int { return service.ExitRestart }

// upgrades handles the server's upgrade offers.
type upgrades struct {
	a       *agent
	u       *upgrade.Updater // nil: no release root configured
	wake    chan string
	stopRun context.CancelFunc

	mu      sync.Mutex
	note    string               // the last upgrade event, for Health
	refused map[string]time.Time // versions refused, when
	failed  map[string]time.Time // versions that failed transiently, when
	restart *RestartError
}

func newUpgrades(a *agent) (*upgrades, error) {
	up := &upgrades{a: a, wake: make(chan string, 1), refused: map[string]time.Time{}, failed: map[string]time.Time{}}
	if st, err := upgrade.Load(a.cfg.StateDir); err == nil {
		up.note = st.Last
	}
	if a.cfg.ReleaseRoot == "" {
		return up, nil
	}
	root, err := os.ReadFile(a.cfg.ReleaseRoot)
	if err != nil {
		return nil, fmt.Errorf("release root: %w", err)
	}
	up.u = &upgrade.Updater{
		StateDir: a.cfg.StateDir, Root: root, BaseURL: a.client.URL(wire.PathUpdates),
		HTTP: a.client.Downloader(10 * time.Minute), Version: version.Version,
	}
	return up, nil
}

// offer is called with each answer's directives.
func (up *upgrades) offer(o *wire.UpgradeOffer) {
	if o == nil || o.Version == "" || o.Version == version.Version {
		return
	}
	select {
	case up.wake <- o.Version:
	default:
	}
}

func (up *upgrades) setNote(s string) {
	up.mu.Lock()
	up.note = s
	up.mu.Unlock()
}

func (up *upgrades) lastNote() string {
	up.mu.Lock()
	defer up.mu.Unlock()
	return up.note
}

func (up *upgrades) loop(ctx context.Context) {
	log := up.a.log.Named("upgrade")
	for {
		var v string
		select {
		case <-ctx.Done():
			return
		case v = <-up.wake:
		}
		up.mu.Lock()
		skip := time.Since(up.refused[v]) < refusedRetry || time.Since(up.failed[v]) < transientRetry
		up.mu.Unlock()
		if skip {
			continue
		}
		if up.u == nil {
			up.mu.Lock()
			up.refused[v] = time.Now()
			up.mu.Unlock()
			up.setNote(fmt.Sprintf("upgrade to %s refused: no release root is configured (release_root)", v))
			log.Warn("upgrade offered, but no release root is configured: refused", "version", v)
			continue
		}
		log.Info("upgrade offered: verifying against the release root", "version", v)
		staged, err := up.u.Stage(ctx, v)
		switch {
		case err == nil:
			log.Info("upgrade verified and staged; restarting into it", "version", v, "binary", staged.Path)
			up.setNote(fmt.Sprintf("staged %s", v))
			up.mu.Lock()
			up.restart = &RestartError{Reason: "upgrade to " + v + " staged"}
			up.mu.Unlock()
			up.stopRun()
			return
		case upgrade.IsRefused(err):
			up.mu.Lock()
			up.refused[v] = time.Now()
			up.mu.Unlock()
			up.setNote(err.Error())
			log.Warn("upgrade refused; staying on this version", "version", v, "running", version.Version, "reason", err)
		default:
			if ctx.Err() != nil {
				return
			}
			up.mu.Lock()
			up.failed[v] = time.Now()
			up.mu.Unlock()
			log.Warn("upgrade could not be fetched; will retry", "version", v, "error", err)
		}
	}
}

// trial commits the upgrade this process runs on trial once the server has answered, or rolls
// it back and restarts into the previous version when it has not within the trial timeout.
func (up *upgrades) trial(ctx context.Context) {
	log := up.a.log.Named("upgrade")
	timeout := up.a.cfg.TrialTimeout
	if timeout <= 0 {
		timeout = DefaultTrialTimeout
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			reason := fmt.Sprintf("no answer from the server within %s", timeout)
			log.Error("upgrade on trial is not healthy: rolling back", "version", version.Version, "reason", reason)
			if err := upgrade.Fail(up.a.cfg.StateDir, reason); err != nil {
				log.Error("cannot record the rollback", "error", err)
			}
			up.mu.Lock()
			up.restart = &RestartError{Reason: "upgrade to " + version.Version + " rolled back"}
			up.mu.Unlock()
			up.stopRun()
			return
		case <-tick.C:
			up.a.mu.Lock()
			ok := up.a.lastContact.After(up.a.start)
			up.a.mu.Unlock()
			if !ok {
				continue
			}
			if err := upgrade.Commit(up.a.cfg.StateDir); err != nil {
				log.Error("cannot commit the upgrade", "error", err)
				return
			}
			st, _ := upgrade.Load(up.a.cfg.StateDir)
			up.setNote(st.Last)
			log.Info("upgrade healthy: committed", "version", version.Version)
			return
		}
	}
}

func (up *upgrades) restartErr() error {
	up.mu.Lock()
	defer up.mu.Unlock()
	if up.restart == nil {
		return nil
	}
	return up.restart
}
