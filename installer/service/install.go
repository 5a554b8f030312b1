package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
)

// Paths are where an installation keeps its pieces.
type Paths struct {
	Binary  string // the executable the service runs
	Config  string // its configuration file
	Data    string // the directory it writes (the agent's state, the server's data)
	LogFile string // its output where the manager keeps no journal
}

// Plan is one installation: the service, the executable to put in place and the
// configuration to write.
type Plan struct {
	Spec Spec
	// Source is the executable copied to Spec.Binary; empty, or the same file, means none is.
	Source string
	// Config is the configuration file; Settings are written into it (keys already there are
	// kept); Comment heads a new file.
	Config   string
	Comment  string
	Settings []Setting
	// Files are more files to write (path -> content, root-only like the configuration),
	// removed by a purge: the agent's copy of the release root.
	Files map[string][]byte
	// Start starts the service once installed, and waits until it runs.
	Start bool
}

// manifest records what an installation put where, so that uninstall removes exactly that.
// It lives beside the configuration file, as NAME.installed.json.
type manifest struct {
	Service string   `json:"service"`
	Binary  string   `json:"binary"`
	Copied  bool     `json:"copied"` // the binary was copied there by install (not a package's)
	Config  string   `json:"config"`
	Data    []string `json:"data"`
	LogFile string   `json:"log_file,omitempty"`
	Files   []string `json:"files,omitempty"`
	// Dirs are the folders install created (deepest first), removed when a purge leaves them
	// empty.
	Dirs []string `json:"dirs,omitempty"`
}

// missingDirs lists the folders that creating each path's folder would create, deepest first.
func missingDirs(paths ...string) []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range paths {
		if p == "" {
			continue
		}
		for d := filepath.Dir(p); !seen[d] && !exists(d); d = filepath.Dir(d) {
			seen[d] = true
			out = append(out, d)
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// removeEmptyDirs removes each folder that is empty, deepest first.
func removeEmptyDirs(dirs []string) {
	for _, d := range dirs {
		if entries, err := os.ReadDir(d); err == nil && len(entries) == 0 {
			_ = os.Remove(d)
		}
	}
}

// ManifestPath is where the record of the installation named name, configured at config, is.
func ManifestPath(config, name string) string {
	return filepath.Join(filepath.Dir(config), name+".installed.json")
}

// Install puts p in place: it stops the service if it runs, copies the executable, writes the
// configuration, creates the private data directories, (re)writes and registers the service
// definition and, if p.Start, starts it. Running it again with the same plan is harmless; with
// a new executable it upgrades in place, keeping configuration and data.
func Install(ctx context.Context, p Plan) (*Manager, error) {
	m, err := New(p.Spec)
	if err != nil {
		return nil, err
	}
	st, err := m.Status()
	if err != nil {
		return nil, err
	}
	if st == Running {
		if err := m.Stop(ctx); err != nil {
			return nil, err
		}
	}
	created := missingDirs(append([]string{p.Spec.Binary, p.Config, p.Spec.LogFile}, p.Spec.Writable...)...)
	copied, err := placeBinary(p.Source, p.Spec.Binary)
	if err != nil {
		return nil, err
	}
	if old, err := readManifest(ManifestPath(p.Config, p.Spec.Name)); err == nil && old.Binary == p.Spec.Binary {
		copied = copied || old.Copied
	}
	if err := WriteConfig(p.Config, p.Comment, p.Settings); err != nil {
		return nil, err
	}
	for _, d := range p.Spec.Writable {
		if err := MakePrivateDir(d); err != nil {
			return nil, err
		}
	}
	var files []string
	for path, data := range p.Files {
		if err := WriteSecret(path, data); err != nil {
			return nil, err
		}
		files = append(files, path)
	}
	if old, err := readManifest(ManifestPath(p.Config, p.Spec.Name)); err == nil {
		created = append(created, old.Dirs...)
		for _, f := range old.Files {
			if _, again := p.Files[f]; !again {
				files = append(files, f) // written by an earlier install: still ours to purge
			}
		}
	}
	sort.Strings(files)
	man, err := json.MarshalIndent(manifest{
		Service: p.Spec.Name, Binary: p.Spec.Binary, Copied: copied, Config: p.Config,
		Data: p.Spec.Writable, LogFile: p.Spec.LogFile, Files: files, Dirs: created,
	}, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := WriteSecret(ManifestPath(p.Config, p.Spec.Name), append(man, '\n')); err != nil {
		return nil, err
	}
	if err := m.Install(ctx); err != nil {
		return nil, err
	}
	if p.Start {
		if err := m.Start(ctx); err != nil {
			return m, err
		}
	}
	return m, nil
}

// Uninstall stops and removes the service described by spec, and the executable if install
// copied it there. With purge it also removes the configuration file, the data directories,
// the log file and the record of the installation (and the configuration's directory when
// that leaves it empty). What the record names wins over spec, so that an installation made
// with other paths is removed whole.
func Uninstall(ctx context.Context, spec Spec, config string, purge bool) error {
	man, err := readManifest(ManifestPath(config, spec.Name))
	switch {
	case err == nil:
		spec.Binary, spec.Writable, spec.LogFile = man.Binary, man.Data, man.LogFile
	case !errors.Is(err, os.ErrNotExist):
		return err
	}
	m, err := New(spec)
	if err != nil {
		return err
	}
	if err := m.Uninstall(ctx); err != nil {
		return err
	}
	if man != nil && man.Copied {
		// The agent and the server installed by hand share one binary: the other keeps it.
		others, err := SharingBinary(config, spec.Name, man.Binary)
		if err != nil {
			return err
		}
		if len(others) == 0 {
			if err := removeFile(man.Binary); err != nil {
				return err
			}
			removeEmptyDirs(man.Dirs)
		}
	}
	if !purge {
		return nil
	}
	for _, d := range spec.Writable {
		if err := os.RemoveAll(d); err != nil {
			return fmt.Errorf("purge: %w", err)
		}
	}
	var extra []string
	if man != nil {
		extra = man.Files
	}
	for _, f := range append([]string{config, spec.LogFile, ManifestPath(config, spec.Name)}, extra...) {
		if err := removeFile(f); err != nil {
			return err
		}
	}
	// The folders install created go too when nothing else is in them.
	if man != nil {
		removeEmptyDirs(man.Dirs)
	}
	return nil
}

// Installed reads the record of the installation of name configured at config; ok is false
// when there is none.
func Installed(config, name string) (p Paths, ok bool, err error) {
	man, err := readManifest(ManifestPath(config, name))
	if errors.Is(err, os.ErrNotExist) {
		return Paths{}, false, nil
	}
	if err != nil {
		return Paths{}, false, err
	}
	p = Paths{Binary: man.Binary, Config: man.Config, LogFile: man.LogFile}
	if len(man.Data) > 0 {
		p.Data = man.Data[0]
	}
	return p, true, nil
}

// SharingBinary lists the other installations recorded beside config (their services' names)
// whose service is registered and runs binary: an agent and a server installed on one computer
// both run /usr/local/bin/vigil, which uninstalling one must leave to the other. A record left
// by an uninstall without --purge does not count.
func SharingBinary(config, name, binary string) ([]string, error) {
	records, err := filepath.Glob(filepath.Join(filepath.Dir(config), "*.installed.json"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range records {
		if r == ManifestPath(config, name) {
			continue
		}
		m, err := readManifest(r)
		if err != nil {
			return nil, err
		}
		if !sameFile(m.Binary, binary) {
			continue
		}
		if other, err := New(Spec{Name: m.Service, Binary: m.Binary}); err == nil {
			if st, err := other.Status(); err == nil && st == NotInstalled {
				continue
			}
		}
		out = append(out, m.Service) // registered, or not known not to be: keep the binary

	}
	return out, nil
}

// sameFile reports whether a and b name one file: the same path, or, when both exist, the same
// file through links.
func sameFile(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	ai, errA := os.Stat(a)
	bi, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(ai, bi)
}

func readManifest(path string) (*manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &m, nil
}

func removeFile(path string) error {
	if path == "" {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove: %w", err)
	}
	return nil
}

// placeBinary copies src to dst (atomically, mode 0755, root's) unless src is empty or already
// dst. It reports whether it copied.
func placeBinary(src, dst string) (bool, error) {
	if src == "" {
		return false, nil
	}
	if si, err := os.Stat(src); err != nil {
		return false, fmt.Errorf("executable: %w", err)
	} else if di, err := os.Stat(dst); err == nil && os.SameFile(si, di) {
		return false, nil
	}
	in, err := os.Open(src)
	if err != nil {
		return false, fmt.Errorf("executable: %w", err)
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return false, fmt.Errorf("executable: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*")
	if err != nil {
		return false, fmt.Errorf("executable: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return false, fmt.Errorf("executable: copy to %s: %w", dst, err)
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return false, fmt.Errorf("executable: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return false, fmt.Errorf("executable: %w", err)
	}
	if err := restrictExecutable(tmp.Name()); err != nil {
		return false, fmt.Errorf("executable: %w", err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return false, fmt.Errorf("executable: %w", err)
	}
	return true, nil
}
