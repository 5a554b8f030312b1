package upgrade

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Staged is one verified binary in the state directory.
type Staged struct {
	Version string `json:"version"`
	Path    string `json:"path"`
}

// State is the upgrade record in STATE/upgrade/state.json.
type State struct {
	// Current is a committed upgrade: it runs instead of the installed binary.
	Current *Staged `json:"current,omitempty"`
	// Pending is verified and staged, on trial until it commits itself.
	Pending *Staged `json:"pending,omitempty"`
	// Attempts counts the starts of Pending (0: not started yet).
	Attempts int `json:"attempts"`
	// Bad holds versions that were rolled back, with the reason: never offered again.
	Bad map[string]string `json:"bad,omitempty"`
	// Last describes the last upgrade event (for the agent's health report).
	Last string `json:"last,omitempty"`
}

// Dir is the upgrade folder inside an agent's state directory.
func Dir(stateDir string) string { return filepath.Join(stateDir, "upgrade") }

func statePath(stateDir string) string { return filepath.Join(Dir(stateDir), "state.json") }

// Load reads the upgrade record; a missing one is empty.
func Load(stateDir string) (*State, error) {
	data, err := os.ReadFile(statePath(stateDir))
	if errors.Is(err, os.ErrNotExist) {
		return &State{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("upgrade state: %w", err)
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		// A damaged record must not keep the agent down: start over from the installed binary.
		return &State{Last: fmt.Sprintf("upgrade state %s unreadable (%v): reset", statePath(stateDir), err)}, nil
	}
	return &st, nil
}

// Save writes the record atomically.
func (st *State) Save(stateDir string) error {
	if err := os.MkdirAll(Dir(stateDir), 0o700); err != nil {
		return fmt.Errorf("upgrade state: %w", err)
	}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := statePath(stateDir) + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("upgrade state: %w", err)
	}
	if err := os.Rename(tmp, statePath(stateDir)); err != nil {
		return fmt.Errorf("upgrade state: %w", err)
	}
	return nil
}

// rollback drops the pending version, marks it bad and removes its files.
func (st *State) rollback(reason string) {
	if st.Pending == nil {
		return
	}
	v := st.Pending.Version
	if st.Bad == nil {
		st.Bad = map[string]string{}
	}
	st.Bad[v] = reason
	_ = os.RemoveAll(filepath.Dir(st.Pending.Path))
	st.Pending, st.Attempts = nil, 0
	st.Last = fmt.Sprintf("%s rolled back %s: %s", time.Now().UTC().Format(time.RFC3339), v, reason)
}

// Action is what Decide tells the starting agent to do.
type Action struct {
	// Exec names the binary to hand over to; empty means this process runs the agent.
	Exec string
	// Trial is true when this process is the pending upgrade on trial: it must call Commit once
	// healthy, or Fail.
	Trial bool
}

// Decide picks the binary that runs the agent and updates the record: a pending upgrade is
// started once; one that started before without committing is rolled back; a committed
// upgrade runs instead of an older installed binary. self is this binary's version.
func Decide(stateDir, self string) (Action, error) {
	st, err := Load(stateDir)
	if err != nil {
		return Action{}, err
	}
	changed := false
	if p := st.Pending; p != nil {
		switch {
		case p.Version == self:
			return Action{Trial: true}, nil
		case st.Attempts == 0 && usable(p.Path):
			st.Attempts = 1
			if err := st.Save(stateDir); err != nil {
				return Action{}, err
			}
			return Action{Exec: p.Path}, nil
		case st.Attempts == 0:
			st.rollback("its staged binary is missing")
		default:
			st.rollback("it stopped before it came up healthy")
		}
		changed = true
	}
	if c := st.Current; c != nil && c.Version != self {
		if Newer(c.Version, self) && usable(c.Path) {
			if changed {
				if err := st.Save(stateDir); err != nil {
					return Action{}, err
				}
			}
			return Action{Exec: c.Path}, nil
		}
		// The installed binary is as new or newer (a package upgrade): it wins.
		_ = os.RemoveAll(filepath.Dir(c.Path))
		st.Current, changed = nil, true
	}
	if changed {
		if err := st.Save(stateDir); err != nil {
			return Action{}, err
		}
	}
	return Action{}, nil
}

func usable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

// Commit makes the pending upgrade (this process, on trial) the current one.
func Commit(stateDir string) error {
	st, err := Load(stateDir)
	if err != nil {
		return err
	}
	if st.Pending == nil {
		return nil
	}
	old := st.Current
	from := "the installed binary"
	if old != nil {
		from = old.Version
	}
	st.Current, st.Pending, st.Attempts = st.Pending, nil, 0
	st.Last = fmt.Sprintf("%s upgraded from %s to %s", time.Now().UTC().Format(time.RFC3339), from, st.Current.Version)
	if err := st.Save(stateDir); err != nil {
		return err
	}
	if old != nil && filepath.Dir(old.Path) != filepath.Dir(st.Current.Path) {
		_ = os.RemoveAll(filepath.Dir(old.Path))
	}
	return nil
}

// Fail rolls the pending upgrade (this process, on trial) back; the agent should then exit
// with service.ExitRestart so that its manager starts the previous binary.
func Fail(stateDir, reason string) error {
	st, err := Load(stateDir)
	if err != nil {
		return err
	}
	st.rollback(reason)
	return st.Save(stateDir)
}
