package upgrade

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

type repoFixture struct {
	repo *Repo
	srv  *httptest.Server
	root []byte
}

// newRepo makes a release repository with a new key, served over loopback HTTP.
func newRepo(t *testing.T) *repoFixture {
	t.Helper()
	dir := t.TempDir()
	key, err := GenerateKey(filepath.Join(dir, "release.key"))
	if err != nil {
		t.Fatal(err)
	}
	if k2, err := LoadKey(filepath.Join(dir, "release.key")); err != nil || !k2.Equal(key) {
		t.Fatalf("load key: %v", err)
	}
	r := &Repo{Dir: filepath.Join(dir, "repo"), Key: key}
	if err := r.Init(); err != nil {
		t.Fatal(err)
	}
	root, err := os.ReadFile(r.RootPath())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(r.Dir)))
	t.Cleanup(srv.Close)
	return &repoFixture{repo: r, srv: srv, root: root}
}

func (f *repoFixture) publish(t *testing.T, version, content string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "vigil")
	if err := os.WriteFile(bin, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := f.repo.Publish(version, map[string]string{runtime.GOOS + "/" + runtime.GOARCH: bin}); err != nil {
		t.Fatal(err)
	}
}

func (f *repoFixture) updater(t *testing.T, state string, root []byte) *Updater {
	return &Updater{StateDir: state, Root: root, BaseURL: f.srv.URL, Version: "1.0.0"}
}

func TestStageCommit(t *testing.T) {
	f := newRepo(t)
	f.publish(t, "1.0.1", "binary 1.0.1")
	state := t.TempDir()
	u := f.updater(t, state, f.root)
	staged, err := u.Stage(context.Background(), "1.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(staged.Path); string(b) != "binary 1.0.1" {
		t.Fatalf("staged %q", b)
	}
	if fi, _ := os.Stat(staged.Path); fi.Mode().Perm() != 0o700 {
		t.Errorf("staged mode %v", fi.Mode())
	}
	// The installed 1.0.0 starts: it hands over to the pending 1.0.1, once.
	a, err := Decide(state, "1.0.0")
	if err != nil || a.Exec != staged.Path || a.Trial {
		t.Fatalf("decide as 1.0.0: %+v %v", a, err)
	}
	// 1.0.1 starts on trial, and commits.
	if a, err := Decide(state, "1.0.1"); err != nil || !a.Trial || a.Exec != "" {
		t.Fatalf("decide as 1.0.1: %+v %v", a, err)
	}
	if err := Commit(state); err != nil {
		t.Fatal(err)
	}
	st, _ := Load(state)
	if st.Current == nil || st.Current.Version != "1.0.1" || st.Pending != nil || !strings.Contains(st.Last, "upgraded from the installed binary to 1.0.1") {
		t.Fatalf("state after commit: %+v", st)
	}
	// From now on the installed binary hands over to 1.0.1 at every start.
	if a, _ := Decide(state, "1.0.0"); a.Exec != staged.Path {
		t.Fatalf("decide after commit: %+v", a)
	}
	// A package upgrade to 1.0.2 of the installed binary wins over the staged 1.0.1.
	if a, _ := Decide(state, "1.0.2"); a.Exec != "" || a.Trial {
		t.Fatalf("decide as a newer installed binary: %+v", a)
	}
	if _, err := os.Stat(staged.Path); !os.IsNotExist(err) {
		t.Errorf("the superseded upgrade's binary is still there: %v", err)
	}
}

func TestRollback(t *testing.T) {
	f := newRepo(t)
	f.publish(t, "1.0.1", "binary 1.0.1")
	state := t.TempDir()
	u := f.updater(t, state, f.root)
	staged, err := u.Stage(context.Background(), "1.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := Decide(state, "1.0.0"); a.Exec != staged.Path {
		t.Fatalf("first start: %+v", a)
	}
	// The trial died without committing: the manager starts the installed binary again.
	a, err := Decide(state, "1.0.0")
	if err != nil || a.Exec != "" || a.Trial {
		t.Fatalf("start after a failed trial: %+v %v", a, err)
	}
	st, _ := Load(state)
	if st.Pending != nil || st.Bad["1.0.1"] == "" || !strings.Contains(st.Last, "rolled back 1.0.1") {
		t.Fatalf("state after rollback: %+v", st)
	}
	if _, err := os.Stat(staged.Path); !os.IsNotExist(err) {
		t.Error("rolled-back binary still there")
	}
	// Offered again, it is refused.
	if _, err := u.Stage(context.Background(), "1.0.1"); !IsRefused(err) || !strings.Contains(err.Error(), "rolled back before") {
		t.Fatalf("second offer: %v", err)
	}
	// A trial that decides for itself it is unhealthy rolls back the same way.
	f.publish(t, "1.0.2", "binary 1.0.2")
	if _, err := u.Stage(context.Background(), "1.0.2"); err != nil {
		t.Fatal(err)
	}
	if err := Fail(state, "no contact with the server"); err != nil {
		t.Fatal(err)
	}
	if st, _ := Load(state); st.Pending != nil || st.Bad["1.0.2"] != "no contact with the server" {
		t.Fatalf("after Fail: %+v", st)
	}
}

func TestRefusals(t *testing.T) {
	f := newRepo(t)
	f.publish(t, "1.0.1", "binary 1.0.1")
	other := newRepo(t)
	other.publish(t, "1.0.1", "evil 1.0.1")
	other.publish(t, "1.0.5", "evil 1.0.5")
	ctx := context.Background()
	for name, tc := range map[string]struct {
		u       func(state string) *Updater
		version string
		want    string
	}{
		"signed by another key":       {func(s string) *Updater { return other.updater(t, s, f.root) }, "1.0.1", "does not verify against the release root"},
		"offered by the server alone": {func(s string) *Updater { return f.updater(t, s, f.root) }, "1.0.5", "has not signed"},
		"older than running":          {func(s string) *Updater { u := f.updater(t, s, f.root); u.Version = "2.0.0"; return u }, "1.0.1", "not newer"},
		"same as running":             {func(s string) *Updater { u := f.updater(t, s, f.root); u.Version = "1.0.1"; return u }, "1.0.1", "not newer"},
		"no release root":             {func(s string) *Updater { return f.updater(t, s, nil) }, "1.0.1", "no release root"},
		"not a version":               {func(s string) *Updater { return f.updater(t, s, f.root) }, "../../x", "not a version"},
		"other platform":              {func(s string) *Updater { u := f.updater(t, s, f.root); u.GOOS = "plan9"; return u }, "1.0.1", "has not signed vigil/1.0.1/plan9-"},
	} {
		t.Run(name, func(t *testing.T) {
			state := t.TempDir()
			_, err := tc.u(state).Stage(ctx, tc.version)
			if !IsRefused(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a refusal saying %q", err, tc.want)
			}
			if a, _ := Decide(state, "1.0.0"); a.Exec != "" || a.Trial {
				t.Fatalf("refused offer still runs: %+v", a)
			}
		})
	}
}

// TestTamperedRepository: the server swaps the binary or the targets metadata; the agent
// refuses.
func TestTamperedRepository(t *testing.T) {
	f := newRepo(t)
	f.publish(t, "1.0.1", "binary 1.0.1")
	var target string
	_ = filepath.Walk(filepath.Join(f.repo.Dir, TargetsDir), func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			target = p
		}
		return nil
	})
	if err := os.WriteFile(target, []byte("binary 1.0.X"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := f.updater(t, t.TempDir(), f.root).Stage(context.Background(), "1.0.1")
	if !IsRefused(err) || !strings.Contains(err.Error(), "does not match its signed length and hash") {
		t.Fatalf("swapped binary: %v", err)
	}

	// The server rewrites targets metadata with its own key (it has no other).
	g := newRepo(t)
	g.publish(t, "1.0.1", "binary 1.0.1")
	evil := newRepo(t)
	evil.publish(t, "1.0.1", "evil")
	for _, n := range []string{"2.targets.json"} {
		data, err := os.ReadFile(filepath.Join(evil.repo.Dir, MetadataDir, n))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(g.repo.Dir, MetadataDir, n), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err = g.updater(t, t.TempDir(), g.root).Stage(context.Background(), "1.0.1")
	if !IsRefused(err) {
		t.Fatalf("targets signed by another key: %v", err)
	}
}

func TestServerDownIsNotARefusal(t *testing.T) {
	f := newRepo(t)
	f.publish(t, "1.0.1", "binary 1.0.1")
	f.srv.Close()
	_, err := f.updater(t, t.TempDir(), f.root).Stage(context.Background(), "1.0.1")
	if err == nil || IsRefused(err) {
		t.Fatalf("got %v, want a transient error", err)
	}
}

func TestRepoVersionsAndKeyCheck(t *testing.T) {
	f := newRepo(t)
	f.publish(t, "1.0.10", "a")
	f.publish(t, "1.0.9", "b")
	v, err := f.repo.Versions()
	if err != nil || strings.Join(v, ",") != "1.0.9,1.0.10" {
		t.Fatalf("versions %v %v", v, err)
	}
	if err := f.repo.Refresh(); err != nil {
		t.Fatal(err)
	}
	other := newRepo(t)
	wrong := &Repo{Dir: f.repo.Dir, Key: other.repo.Key}
	if err := wrong.Publish("1.1.0", map[string]string{"linux/amd64": f.repo.RootPath()}); err == nil || !strings.Contains(err.Error(), "not the repository's release key") {
		t.Fatalf("publish with another key: %v", err)
	}
	if err := (&Repo{Dir: f.repo.Dir, Key: f.repo.Key}).Init(); err == nil {
		t.Fatal("init over an existing repository")
	}
	if _, err := GenerateKey(filepath.Join(t.TempDir(), "k")); err != nil {
		t.Fatal(err)
	}
}

func TestDamagedStateResets(t *testing.T) {
	state := t.TempDir()
	if err := os.MkdirAll(Dir(state), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(statePath(state), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := Decide(state, "1.0.0")
	if err != nil || a.Exec != "" {
		t.Fatalf("damaged state: %+v %v", a, err)
	}
}
