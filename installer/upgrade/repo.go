package upgrade

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Layout of a repository folder: the metadata under metadata/, the signed binaries under
// targets/ (hash-prefixed, as TUF's consistent snapshots name them). A server serves the two
// folders as they are.
const (
	MetadataDir = "metadata"
	TargetsDir  = "targets"
)

// DefaultExpiry is how long signed metadata stays valid. The release key is offline, so the
// timestamp role cannot be re-signed often: publishing again (or `vigil release refresh`) renews
// every role before this runs out.
const DefaultExpiry = 365 * 24 * time.Hour

// TargetName is the TUF target of version's binary for goos/goarch.
func TargetName(version, goos, goarch string) string {
	exe := "vigil"
	if goos == "windows" {
		exe = "vigil.exe"
	}
	return "vigil/" + version + "/" + goos + "-" + goarch + "/" + exe
}

// CheckVersion refuses a version that is not semantic (1.2.3, 1.2.3-rc.1+meta).
func CheckVersion(v string) error {
	if strings.ContainsAny(v, "/\\ ") || v == "" {
		return fmt.Errorf("version %q: not a version", v)
	}
	if _, err := semver.StrictNewVersion(strings.TrimPrefix(v, "v")); err != nil {
		return fmt.Errorf("version %q: %w", v, err)
	}
	return nil
}

// Newer reports whether version a is newer than b (semantic versions; an unparsable one is
// never newer).
func Newer(a, b string) bool {
	va, err := semver.NewVersion(a)
	if err != nil {
		return false
	}
	vb, err := semver.NewVersion(b)
	if err != nil {
		return true
	}
	return va.GreaterThan(vb)
}

// GenerateKey writes a new ed25519 release key to path (PKCS#8 PEM, mode 0600). It refuses to
// overwrite one.
func GenerateKey(path string) (ed25519.PrivateKey, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("release key: %w", err)
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		return nil, fmt.Errorf("release key: %w", err)
	}
	return key, f.Close()
}

// LoadKey reads an ed25519 release key written by GenerateKey.
func LoadKey(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("release key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("release key %s: no PRIVATE KEY PEM block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("release key %s: %w", path, err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("release key %s: %T, want an ed25519 key", path, k)
	}
	return key, nil
}

// Repo is a release repository folder on the admin's machine.
type Repo struct {
	Dir    string
	Key    ed25519.PrivateKey
	Expiry time.Duration // 0: DefaultExpiry
	Now    func() time.Time

	root      *metadata.Metadata[metadata.RootType]
	targets   *metadata.Metadata[metadata.TargetsType]
	snapshot  *metadata.Metadata[metadata.SnapshotType]
	timestamp *metadata.Metadata[metadata.TimestampType]
}

func (r *Repo) expires() time.Time {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	d := r.Expiry
	if d <= 0 {
		d = DefaultExpiry
	}
	return now().UTC().Add(d).Truncate(time.Second)
}

func (r *Repo) metaPath(name string) string { return filepath.Join(r.Dir, MetadataDir, name) }

// RootPath is the repository's current root metadata: the file agents are installed with
// (`vigil agent install --release-root FILE`).
func (r *Repo) RootPath() string { return r.metaPath("root.json") }

// Init creates the repository: a root that trusts r.Key for every role, and empty targets,
// snapshot and timestamp metadata. It refuses a folder that already holds a repository.
func (r *Repo) Init() error {
	if _, err := os.Stat(r.RootPath()); err == nil {
		return fmt.Errorf("release repository %s exists already", r.Dir)
	}
	for _, d := range []string{MetadataDir, TargetsDir} {
		if err := os.MkdirAll(filepath.Join(r.Dir, d), 0o755); err != nil {
			return err
		}
	}
	r.root = metadata.Root(r.expires())
	key, err := metadata.KeyFromPublicKey(r.Key.Public())
	if err != nil {
		return err
	}
	for _, role := range []string{metadata.ROOT, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP} {
		if err := r.root.Signed.AddKey(key, role); err != nil {
			return err
		}
	}
	r.targets = metadata.Targets(r.expires())
	r.snapshot = metadata.Snapshot(r.expires())
	r.timestamp = metadata.Timestamp(r.expires())
	if err := r.sign(r.root); err != nil {
		return err
	}
	if err := r.save("1.root.json", r.root); err != nil {
		return err
	}
	if err := r.save("root.json", r.root); err != nil {
		return err
	}
	return r.signTop()
}

// load reads the repository's current metadata.
func (r *Repo) load() error {
	var err error
	if r.root, err = metadata.Root().FromFile(r.RootPath()); err != nil {
		return fmt.Errorf("release repository: %w", err)
	}
	if r.timestamp, err = metadata.Timestamp().FromFile(r.metaPath("timestamp.json")); err != nil {
		return fmt.Errorf("release repository: %w", err)
	}
	sv := r.timestamp.Signed.Meta["snapshot.json"].Version
	if r.snapshot, err = metadata.Snapshot().FromFile(r.metaPath(fmt.Sprintf("%d.snapshot.json", sv))); err != nil {
		return fmt.Errorf("release repository: %w", err)
	}
	tv := r.snapshot.Signed.Meta["targets.json"].Version
	if r.targets, err = metadata.Targets().FromFile(r.metaPath(fmt.Sprintf("%d.targets.json", tv))); err != nil {
		return fmt.Errorf("release repository: %w", err)
	}
	// Only the key the root trusts can sign: refuse another one early, with a clear message.
	key, err := metadata.KeyFromPublicKey(r.Key.Public())
	if err != nil {
		return err
	}
	keyID, err := key.ID()
	if err != nil {
		return err
	}
	for _, id := range r.root.Signed.Roles[metadata.TARGETS].KeyIDs {
		if id == keyID {
			return nil
		}
	}
	return errors.New("release repository: this key is not the repository's release key")
}

// Publish adds version's binaries (platform "OS/ARCH" -> file) as signed targets, copies them
// into the repository and signs new targets, snapshot and timestamp metadata.
func (r *Repo) Publish(version string, binaries map[string]string) error {
	if err := CheckVersion(version); err != nil {
		return err
	}
	if len(binaries) == 0 {
		return errors.New("publish: no binaries")
	}
	if err := r.load(); err != nil {
		return err
	}
	platforms := make([]string, 0, len(binaries))
	for p := range binaries {
		platforms = append(platforms, p)
	}
	sort.Strings(platforms)
	for _, p := range platforms {
		goos, goarch, ok := strings.Cut(p, "/")
		if !ok || goos == "" || goarch == "" || strings.Contains(goarch, "/") {
			return fmt.Errorf("publish: platform %q: want OS/ARCH", p)
		}
		data, err := os.ReadFile(binaries[p])
		if err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		name := TargetName(version, goos, goarch)
		tf, err := metadata.TargetFile().FromBytes(name, data, "sha256")
		if err != nil {
			return fmt.Errorf("publish %s: %w", name, err)
		}
		r.targets.Signed.Targets[name] = tf
		// Stored as the client fetches it: DIR/<hash>.<base>.
		var hash string
		for _, h := range tf.Hashes {
			hash = h.String()
		}
		dst := filepath.Join(r.Dir, TargetsDir, filepath.FromSlash(filepath.Dir(name)), hash+"."+filepath.Base(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			return fmt.Errorf("publish: %w", err)
		}
	}
	r.targets.Signed.Version++
	return r.signTop()
}

// Refresh re-signs the targets, snapshot and timestamp metadata with new expiry dates, without
// changing what they list.
func (r *Repo) Refresh() error {
	if err := r.load(); err != nil {
		return err
	}
	r.targets.Signed.Version++
	return r.signTop()
}

// Versions lists the versions the repository holds, oldest first.
func (r *Repo) Versions() ([]string, error) {
	if err := r.load(); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for name := range r.targets.Signed.Targets {
		parts := strings.Split(name, "/")
		if len(parts) == 4 && parts[0] == "vigil" && !seen[parts[1]] {
			seen[parts[1]] = true
			out = append(out, parts[1])
		}
	}
	sort.Slice(out, func(i, j int) bool { return Newer(out[j], out[i]) })
	return out, nil
}

// signTop signs and writes targets (its current version), then a new snapshot and timestamp.
func (r *Repo) signTop() error {
	r.targets.Signed.Expires = r.expires()
	if err := r.sign(r.targets); err != nil {
		return err
	}
	if err := r.save(fmt.Sprintf("%d.targets.json", r.targets.Signed.Version), r.targets); err != nil {
		return err
	}
	if _, err := os.Stat(r.metaPath("1.snapshot.json")); err == nil {
		r.snapshot.Signed.Version++
	}
	r.snapshot.Signed.Expires = r.expires()
	r.snapshot.Signed.Meta["targets.json"] = &metadata.MetaFiles{Version: r.targets.Signed.Version}
	if err := r.sign(r.snapshot); err != nil {
		return err
	}
	if err := r.save(fmt.Sprintf("%d.snapshot.json", r.snapshot.Signed.Version), r.snapshot); err != nil {
		return err
	}
	if _, err := os.Stat(r.metaPath("timestamp.json")); err == nil {
		r.timestamp.Signed.Version++
	}
	r.timestamp.Signed.Expires = r.expires()
	r.timestamp.Signed.Meta["snapshot.json"] = &metadata.MetaFiles{Version: r.snapshot.Signed.Version}
	if err := r.sign(r.timestamp); err != nil {
		return err
	}
	return r.save("timestamp.json", r.timestamp)
}

type signable interface {
	ClearSignatures()
	Sign(signature.Signer) (*metadata.Signature, error)
}

func (r *Repo) sign(m signable) error {
	s, err := signature.LoadSigner(r.Key, crypto.Hash(0))
	if err != nil {
		return err
	}
	m.ClearSignatures()
	if _, err := m.Sign(s); err != nil {
		return fmt.Errorf("sign metadata: %w", err)
	}
	return nil
}

type savable interface{ ToFile(string, bool) error }

func (r *Repo) save(name string, m savable) error {
	if err := m.ToFile(r.metaPath(name), true); err != nil {
		return fmt.Errorf("release repository: %w", err)
	}
	return nil
}
