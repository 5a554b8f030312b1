// Package updates serves a release repository to agents and keeps the upgrade offer: which
// version agents should take, and what share of hosts takes it now (a staged rollout). The
// repository (TUF metadata and signed binaries, made offline by `vigil release`) is a folder the
// admin copies to the server; the server holds no key, so it can offer a version but cannot
// make an agent install anything the release key has not signed (installer/upgrade).
//
// The offer is kept in the repository folder as offer.json, so that replicas sharing the folder
// offer the same version.
package updates

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/vigilhq/vigil/installer/upgrade"
	"github.com/vigilhq/vigil/internal/wire"
)

// Offer is the version offered to a share of the hosts.
type Offer struct {
	Version string `json:"version"`
	// Percent of the hosts that are offered it (1-100). A host's place is fixed per version,
	// so raising the share only adds hosts.
	Percent int       `json:"percent"`
	Updated time.Time `json:"updated"`
}

// Validate checks an offer before it is kept.
func (o *Offer) Validate() error {
	if err := upgrade.CheckVersion(o.Version); err != nil {
		return err
	}
	if o.Percent < 1 || o.Percent > 100 {
		return fmt.Errorf("percent %d: want 1 to 100", o.Percent)
	}
	return nil
}

// Selected reports whether host is among the percent share that version is offered to.
func Selected(hostID, version string, percent int) bool {
	h := fnv.New32a()
	_, _ = h.Write([]byte(version + "\x00" + hostID))
	return int(h.Sum32()%100) < percent
}

// Service serves one repository folder.
type Service struct {
	dir string

	mu      sync.Mutex
	offer   *Offer
	checked time.Time
}

// reload is how long a read offer is trusted before offer.json is read again (replicas that
// share the folder pick up each other's changes within it).
const reload = 5 * time.Second

// New serves the repository in dir.
func New(dir string) (*Service, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("updates folder: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("updates folder %s: not a folder", dir)
	}
	return &Service{dir: dir}, nil
}

func (s *Service) offerPath() string { return filepath.Join(s.dir, "offer.json") }

// Get returns the current offer, or nil.
func (s *Service) Get() (*Offer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if time.Since(s.checked) < reload {
		return s.offer, nil
	}
	data, err := os.ReadFile(s.offerPath())
	switch {
	case errors.Is(err, os.ErrNotExist):
		s.offer = nil
	case err != nil:
		return nil, fmt.Errorf("upgrade offer: %w", err)
	default:
		var o Offer
		if err := json.Unmarshal(data, &o); err != nil {
			return nil, fmt.Errorf("upgrade offer %s: %w", s.offerPath(), err)
		}
		s.offer = &o
	}
	s.checked = time.Now()
	return s.offer, nil
}

// Set keeps o as the offer.
func (s *Service) Set(o Offer) error {
	if err := o.Validate(); err != nil {
		return err
	}
	o.Updated = time.Now().UTC()
	data, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		return err
	}
	tmp := s.offerPath() + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("upgrade offer: %w", err)
	}
	if err := os.Rename(tmp, s.offerPath()); err != nil {
		return fmt.Errorf("upgrade offer: %w", err)
	}
	s.mu.Lock()
	s.offer, s.checked = &o, time.Now()
	s.mu.Unlock()
	return nil
}

// Clear withdraws the offer.
func (s *Service) Clear() error {
	if err := os.Remove(s.offerPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("upgrade offer: %w", err)
	}
	s.mu.Lock()
	s.offer, s.checked = nil, time.Now()
	s.mu.Unlock()
	return nil
}

// For is the offer a host gets in its directives: nil when there is none or the host is not in
// its share yet.
func (s *Service) For(hostID string) *wire.UpgradeOffer {
	o, err := s.Get()
	if err != nil || o == nil || hostID == "" || !Selected(hostID, o.Version, o.Percent) {
		return nil
	}
	return &wire.UpgradeOffer{Version: o.Version}
}

// Versions lists the versions the repository's folder holds binaries for (from its layout;
// the agents trust only the signed metadata).
func (s *Service) Versions() []string {
	entries, err := os.ReadDir(filepath.Join(s.dir, upgrade.TargetsDir, "vigil"))
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out
}

// ServeFile serves rest (metadata/NAME or targets/...) from the repository.
func (s *Service) ServeFile(w http.ResponseWriter, r *http.Request, rest string) {
	clean := path.Clean("/" + rest)[1:]
	top, _, _ := strings.Cut(clean, "/")
	// A backslash is a separator on Windows (`metadata/x\..\..\key` would leave the folder
	// there) and in no name the repository holds.
	if (top != upgrade.MetadataDir && top != upgrade.TargetsDir) || strings.Contains(clean, "/.") ||
		strings.ContainsRune(clean, '\\') || !filepath.IsLocal(filepath.FromSlash(clean)) {
		http.NotFound(w, r)
		return
	}
	p := filepath.Join(s.dir, filepath.FromSlash(clean))
	fi, err := os.Stat(p)
	if err != nil || !fi.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.ServeFile(w, r, p)
}
