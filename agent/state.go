package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vigilhq/vigil/internal/wire"
)

// Files in the state folder.
const (
	identityFile = "identity.json"
	tokenFile    = "token"
	policyFile   = "policy.json"
	statusFile   = "status.json"
	queueFile    = "queue.db"
)

// identity is what enrollment gave the agent (the token is kept apart, in its own file).
type identity struct {
	AgentID   string    `json:"agent_id"`
	PolicyKey string    `json:"policy_key"`
	ServerURL string    `json:"server_url"`
	MachineID string    `json:"machine_id"`
	Enrolled  time.Time `json:"enrolled"`
}

// writeFileAtomic writes data to path through a synced temporary file and a rename, so a crash
// leaves the old content or the new, never a torn file.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(b, '\n'), 0o600)
}

// readJSON reads path into v; a missing file is (false, nil).
func readJSON(path string, v any) (bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	return true, nil
}

// stateDir is the agent's state folder.
type stateDir string

func openState(dir string) (stateDir, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("state folder: %w", err)
	}
	// A folder created earlier with looser rights is tightened: it holds the token.
	if err := os.Chmod(dir, 0o700); err != nil {
		return "", fmt.Errorf("state folder: %w", err)
	}
	return stateDir(dir), nil
}

func (s stateDir) path(name string) string { return filepath.Join(string(s), name) }

// enrollment returns the stored identity and token; ok is false when the agent has not
// enrolled (or enrolled with another server).
func (s stateDir) enrollment(serverURL string) (id identity, token string, ok bool, err error) {
	found, err := readJSON(s.path(identityFile), &id)
	if err != nil || !found {
		return id, "", false, err
	}
	b, err := os.ReadFile(s.path(tokenFile))
	if errors.Is(err, fs.ErrNotExist) {
		return id, "", false, nil
	}
	if err != nil {
		return id, "", false, fmt.Errorf("token: %w", err)
	}
	token = strings.TrimSpace(string(b))
	if token == "" || id.AgentID == "" || strings.TrimRight(id.ServerURL, "/") != strings.TrimRight(serverURL, "/") {
		return id, "", false, nil
	}
	return id, token, true, nil
}

// saveEnrollment stores the token (0600) first, then the identity that makes it count.
func (s stateDir) saveEnrollment(id identity, token string) error {
	if err := writeFileAtomic(s.path(tokenFile), []byte(token+"\n"), 0o600); err != nil {
		return fmt.Errorf("save token: %w", err)
	}
	if err := writeJSON(s.path(identityFile), id); err != nil {
		return fmt.Errorf("save identity: %w", err)
	}
	return nil
}

// forgetEnrollment removes the token (the server refused it).
func (s stateDir) forgetEnrollment() error {
	err := os.Remove(s.path(tokenFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// lastBundle returns the last good bundle, or nil.
func (s stateDir) lastBundle() (*wire.Bundle, error) {
	var b wire.Bundle
	found, err := readJSON(s.path(policyFile), &b)
	if err != nil || !found {
		return nil, err
	}
	return &b, nil
}

func (s stateDir) saveBundle(b *wire.Bundle) error {
	if err := writeJSON(s.path(policyFile), b); err != nil {
		return fmt.Errorf("save policy bundle: %w", err)
	}
	return nil
}

// Status is what a running agent last wrote to status.json in its state folder: for service
// managers, `vigil agent status` and the installer's upgrade check.
type Status struct {
	PID         int       `json:"pid"`
	Version     string    `json:"version"`
	StartedAt   time.Time `json:"started_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	Enrolled    bool      `json:"enrolled"`
	AgentID     string    `json:"agent_id,omitempty"`
	LastContact time.Time `json:"last_contact,omitempty"` // the server's last successful answer
	LastError   string    `json:"last_error,omitempty"`   // the last failure talking to it
	// SourceErrors lists the collectors that failed, as the agent stopped.
	SourceErrors []string    `json:"source_errors,omitempty"`
	Health       wire.Health `json:"health"`
	// Totals kept across restarts (see wire.Health: totals since the state was created).
	EventsDropped int64 `json:"events_dropped_total"`
	SelfLimited   int64 `json:"self_limited_total"`
	ItemsRefused  int64 `json:"items_refused_total"`
}

// StatusInterval is how often a running agent rewrites its status file.
const StatusInterval = 10 * time.Second

// ReadStatus reads the status file of the agent whose state folder is dir.
func ReadStatus(dir string) (*Status, error) {
	var st Status
	found, err := readJSON(filepath.Join(dir, statusFile), &st)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("no agent status in %s (the agent has not run with this state folder)", dir)
	}
	return &st, nil
}

// Healthy reports whether the agent that wrote st is alive and working, as of now: its status
// is fresh (rewritten within three StatusIntervals), it is enrolled, and it heard from the
// server since it started. An upgrade that leaves the agent unhealthy for a
// while should be rolled back.
func (st *Status) Healthy(now time.Time) error {
	switch {
	case now.Sub(st.UpdatedAt) > 3*StatusInterval:
		return fmt.Errorf("status not updated since %s", st.UpdatedAt.Format(time.RFC3339))
	case !st.Enrolled:
		return fmt.Errorf("not enrolled: %s", st.LastError)
	case st.LastContact.Before(st.StartedAt):
		return fmt.Errorf("no answer from the server since the start: %s", st.LastError)
	}
	return nil
}
