package upgrade

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/fetcher"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"
)

// RefusedError is an offer the agent will not install, with the reason. Retrying it does not
// help until the release repository or the agent's configuration changes.
type RefusedError struct {
	Version string
	Reason  string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("upgrade to %s refused: %s", e.Version, e.Reason)
}

// IsRefused reports whether err is a RefusedError.
func IsRefused(err error) bool {
	var r *RefusedError
	return errors.As(err, &r)
}

// Updater stages the versions a server offers, once the release root vouches for them.
type Updater struct {
	StateDir string // the agent's state directory
	// Root is the trusted root metadata, from the file configured at install time. Without
	// it every offer is refused.
	Root []byte
	// BaseURL serves the release repository: BaseURL/metadata/... and BaseURL/targets/....
	BaseURL string
	// HTTP fetches from BaseURL (the agent's pinned, authenticated client); nil: a plain one.
	HTTP *http.Client
	// Version is the running binary's version; GOOS and GOARCH its platform (empty: this
	// process's).
	Version      string
	GOOS, GOARCH string

	mu sync.Mutex
}

// MaxBinaryBytes caps a downloaded binary.
const MaxBinaryBytes = 512 << 20

// Stage verifies version against the release root, downloads this platform's binary into the
// state directory and records it as pending; the agent then exits with service.ExitRestart
// and Decide starts it on trial. A RefusedError means the release key does not vouch for it
// (or it is not newer, or was rolled back before); other errors are transient.
func (u *Updater) Stage(ctx context.Context, version string) (*Staged, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	refuse := func(format string, a ...any) (*Staged, error) {
		return nil, &RefusedError{Version: version, Reason: fmt.Sprintf(format, a...)}
	}
	if err := CheckVersion(version); err != nil {
		return refuse("%v", err)
	}
	if len(u.Root) == 0 {
		return refuse("no release root is configured (release_root), so no upgrade can be verified")
	}
	if !Newer(version, u.Version) {
		return refuse("not newer than the running version %s", u.Version)
	}
	st, err := Load(u.StateDir)
	if err != nil {
		return nil, err
	}
	if why, bad := st.Bad[version]; bad {
		return refuse("rolled back before (%s)", why)
	}
	goos, goarch := u.GOOS, u.GOARCH
	if goos == "" {
		goos, goarch = runtime.GOOS, runtime.GOARCH
	}
	base := strings.TrimSuffix(u.BaseURL, "/")
	cfg, err := config.New(base+"/"+MetadataDir, u.Root)
	if err != nil {
		return nil, fmt.Errorf("upgrade: %w", err)
	}
	cfg.RemoteTargetsURL = base + "/" + TargetsDir
	cfg.LocalMetadataDir = filepath.Join(Dir(u.StateDir), "tuf")
	cfg.LocalTargetsDir = filepath.Join(Dir(u.StateDir), "download")
	cfg.TargetsMaxLength = 16 << 20
	client := u.HTTP
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Minute}
	}
	// Not NewFetcherWithHTTPClient: it drops the one-try default, and backoff would then retry
	// every 404 (how TUF learns there is no newer root) for 15 minutes.
	f := fetcher.NewDefaultFetcher()
	f.SetHTTPClient(&ctxClient{ctx: ctx, c: client})
	cfg.Fetcher = f
	up, err := updater.New(cfg)
	if err != nil {
		return refuse("the configured release root does not load: %v", err)
	}
	if err := up.Refresh(); err != nil {
		if transient(ctx, err) {
			return nil, fmt.Errorf("upgrade to %s: fetch release metadata: %w", version, err)
		}
		return refuse("the release metadata does not verify against the release root: %v", err)
	}
	name := TargetName(version, goos, goarch)
	ti, err := up.GetTargetInfo(name)
	if err != nil || ti == nil {
		return refuse("the release key has not signed %s", name)
	}
	if ti.Length > MaxBinaryBytes {
		return refuse("%s is %d bytes, over the %d limit", name, ti.Length, MaxBinaryBytes)
	}
	dir := filepath.Join(Dir(u.StateDir), "versions", version)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("upgrade: %w", err)
	}
	final := filepath.Join(dir, filepath.Base(name))
	tmp := final + ".download"
	if _, _, err := up.DownloadTarget(ti, tmp, ""); err != nil {
		os.Remove(tmp)
		if transient(ctx, err) {
			return nil, fmt.Errorf("upgrade to %s: download %s: %w", version, name, err)
		}
		return refuse("%s does not match its signed length and hash: %v", name, err)
	}
	if err := os.Chmod(tmp, 0o700); err != nil {
		return nil, fmt.Errorf("upgrade: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return nil, fmt.Errorf("upgrade: %w", err)
	}
	staged := &Staged{Version: version, Path: final}
	st.Pending, st.Attempts = staged, 0
	st.Last = fmt.Sprintf("%s staged %s (signed by the release key)", time.Now().UTC().Format(time.RFC3339), version)
	if err := st.Save(u.StateDir); err != nil {
		return nil, err
	}
	return staged, nil
}

// transient tells a failure to reach the repository (worth retrying) from metadata or a file
// that does not verify (a refusal).
func transient(ctx context.Context, err error) bool {
	var ue *url.Error
	var he *metadata.ErrDownloadHTTP
	return ctx.Err() != nil || errors.As(err, &ue) || errors.As(err, &he)
}

// ctxClient makes the TUF fetcher's requests end with ctx.
type ctxClient struct {
	ctx context.Context
	c   *http.Client
}

func (c *ctxClient) Do(req *http.Request) (*http.Response, error) {
	return c.c.Do(req.WithContext(c.ctx))
}
