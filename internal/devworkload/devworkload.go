// Package devworkload is a developer's day, time-compressed, for the tests that prove ordinary
// work raises nothing above low: local git repositories created and cloned, a Go build and its
// tests, an npm install from a local package, a tarball of the build, a zip extracted with 7z,
// files written, renamed and deleted, and ssh (to a local server when one is given). Everything
// runs in a home-like folder with the caches where a developer's are, and nothing reaches the
// network.
package devworkload

import (
	"archive/zip"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// HomeLikeDir makes a folder that looks like a developer's home, removed at the end. It is not
// under the temporary folder: the staging rules rightly treat files gathered and archived in
// /tmp as staging, and a developer works in their home. It goes in the user's home folder
// (VIGIL_E2E_HOME_BASE overrides the place).
func HomeLikeDir(t testing.TB) string {
	t.Helper()
	base := os.Getenv("VIGIL_E2E_HOME_BASE")
	if base == "" {
		var err error
		if base, err = os.UserHomeDir(); err != nil {
			t.Skipf("no home folder to put the workload in (%v); set VIGIL_E2E_HOME_BASE", err)
		}
	}
	dir, err := os.MkdirTemp(base, "vigil-e2e-")
	if err != nil {
		t.Skipf("cannot create the workload folder in %s (%v); set VIGIL_E2E_HOME_BASE", base, err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove the workload folder: %v", err)
		}
	})
	home := filepath.Join(dir, "dev")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	return home
}

// Env is the environment of the workload's commands: HOME is the home-like folder, so npm's
// cache and git's config land where a developer's do (caches in excluded trees), and nothing
// reaches the network. Go's build cache is this machine's when it has one, warm as a
// developer's is (a cold one rebuilds the standard library: minutes on a busy machine), else
// one in the home folder.
func Env(home string) []string {
	gocache := filepath.Join(home, ".cache", "go-build")
	if out, err := exec.Command("go", "env", "GOCACHE").Output(); err == nil {
		if dir := strings.TrimSpace(string(out)); filepath.IsAbs(dir) {
			if st, err := os.Stat(dir); err == nil && st.IsDir() {
				gocache = dir
			}
		}
	}
	keep := []string{}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "HOME", k == "USERPROFILE", strings.HasPrefix(k, "GO"), strings.HasPrefix(k, "XDG_"),
			strings.HasPrefix(k, "GIT_"), strings.HasPrefix(strings.ToLower(k), "npm_config_"):
			continue
		}
		keep = append(keep, kv)
	}
	return append(keep,
		"HOME="+home,
		"GOCACHE="+gocache,
		"GOPATH="+filepath.Join(home, "go"),
		"GOFLAGS=-mod=mod", "GOPROXY=off", "GOTOOLCHAIN=local", "CGO_ENABLED=0",
		"npm_config_cache="+filepath.Join(home, ".npm"),
		"npm_config_update_notifier=false",
		"GIT_CONFIG_NOSYSTEM=1",
	)
}

// SSHServer is an ssh server the workload may log in to: ClientArgs are ssh's options and
// destination, before the remote command.
type SSHServer interface{ ClientArgs() []string }

// Workload is the scripted developer activity in Home.
type Workload struct {
	T    testing.TB
	Home string
	Env  []string
	// SSH, when set, is a local server the workload logs in to (ssh to localhost, e.g. an
	// rdservers.SSHD); without it the ssh step is `ssh -V`.
	SSH SSHServer
	// Ran lists the steps that ran (a step whose tool is missing is skipped and logged):
	// edits, git, go build, go test, tar, npm, 7z, ssh or ssh localhost.
	Ran []string
}

// New returns the workload for home, with Env(home).
func New(t testing.TB, home string) *Workload {
	return &Workload{T: t, Home: home, Env: Env(home)}
}

// Path joins elem to the home folder.
func (w *Workload) Path(elem ...string) string {
	return filepath.Join(append([]string{w.Home}, elem...)...)
}

func (w *Workload) write(rel, content string) {
	w.T.Helper()
	p := w.Path(rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		w.T.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		w.T.Fatal(err)
	}
}

// cmd runs a command in dir (relative to home) and fails the test if it fails.
func (w *Workload) cmd(dir string, name string, args ...string) {
	w.T.Helper()
	c := exec.Command(name, args...)
	c.Dir = w.Path(dir)
	c.Env = w.Env
	start := time.Now()
	b, err := c.CombinedOutput()
	if err != nil {
		w.T.Fatalf("%s %s (in %s): %v\n%s", name, strings.Join(args, " "), dir, err, b)
	}
	w.T.Logf("%6s  %s %s", time.Since(start).Round(time.Millisecond), name, strings.Join(args, " "))
}

// have reports whether a tool is installed, logging the step it skips when not.
func (w *Workload) have(tool, step string) bool {
	if _, err := exec.LookPath(tool); err != nil {
		w.T.Logf("%s not found: the %s step is skipped", tool, step)
		return false
	}
	w.Ran = append(w.Ran, step)
	return true
}

// Run runs the workload.
func (w *Workload) Run() {
	w.write(".gitconfig", "[user]\n\tname = Dev Eloper\n\temail = dev@example.com\n[init]\n\tdefaultBranch = main\n")

	// Everyday file edits: write, rename, modify, delete.
	w.Ran = append(w.Ran, "edits")
	w.write("Documents/notes.txt", "meeting notes\n")
	w.write("Documents/todo.txt", "- review PR\n")
	w.write("projects/config.json", `{"debug": false}`+"\n")
	if err := os.Rename(w.Path("Documents/notes.txt"), w.Path("Documents/notes.md")); err != nil {
		w.T.Fatal(err)
	}
	w.write("projects/config.json", `{"debug": true}`+"\n")
	if err := os.Remove(w.Path("Documents/todo.txt")); err != nil {
		w.T.Fatal(err)
	}

	// Two local repositories, cloned.
	if w.have("git", "git") {
		for _, repo := range []string{"api", "web"} {
			dir := filepath.Join("projects", repo)
			w.write(filepath.Join(dir, "README.md"), "# "+repo+"\n")
			for i := 0; i < 4; i++ {
				w.write(filepath.Join(dir, "src", fmt.Sprintf("file%d.go", i)), fmt.Sprintf("package src\n\nconst N%d = %d\n", i, i))
			}
			w.cmd(dir, "git", "init", "-q")
			w.cmd(dir, "git", "add", ".")
			w.cmd(dir, "git", "commit", "-q", "-m", "initial commit")
			w.cmd("", "git", "clone", "-q", w.Path(dir), w.Path("work", repo))
		}
		w.cmd("work/api", "git", "status", "--short")
	}

	// A Go build of a module without dependencies and its tests, then a tarball of its output.
	if w.have("go", "go build") {
		w.write("projects/hello/go.mod", "module example.com/hello\n\ngo 1.22\n")
		w.write("projects/hello/main.go", "package main\n\nfunc greet() string { return \"hello\" }\n\nfunc main() { println(greet()) }\n")
		w.cmd("projects/hello", "go", "build", "-o", "build/hello", ".")
		w.write("projects/hello/build/README.txt", "hello, built\n")
		w.write("projects/hello/main_test.go", "package main\n\nimport \"testing\"\n\nfunc TestGreet(t *testing.T) {\n\tif greet() != \"hello\" {\n\t\tt.Fatal(greet())\n\t}\n}\n")
		w.Ran = append(w.Ran, "go test")
		w.cmd("projects/hello", "go", "test", "./...")
	}
	if w.have("tar", "tar") {
		if _, err := os.Stat(w.Path("projects/hello/build")); err != nil {
			w.write("projects/hello/build/README.txt", "no go here\n")
		}
		w.cmd("projects/hello", "tar", "czf", "dist.tgz", "build/")
	}

	// npm: a local package packed, then installed offline into an app.
	if w.have("npm", "npm") {
		w.write("projects/greet-lib/package.json", `{"name":"greet-lib","version":"1.0.0","main":"index.js"}`+"\n")
		w.write("projects/greet-lib/index.js", "module.exports = (n) => `hello ${n}`;\n")
		w.write("projects/app/package.json", `{"name":"app","version":"1.0.0","private":true}`+"\n")
		w.cmd("projects/greet-lib", "npm", "pack", "--offline", "--silent")
		w.cmd("projects/app", "npm", "install", "--offline", "--no-audit", "--no-fund", "../greet-lib/greet-lib-1.0.0.tgz")
	}

	// A zip made here, extracted with 7z.
	if w.have("7z", "7z") {
		w.writeZip("Downloads/specs.zip", map[string]string{"specs/api.md": "# API\n", "specs/web.md": "# Web\n"})
		w.cmd("Downloads", "7z", "x", "-y", "-ospecs-extracted", "specs.zip")
	}

	switch {
	case w.SSH != nil && w.have("ssh", "ssh localhost"):
		// A look at a repository on the "build box" (this machine, over ssh).
		w.cmd("", "ssh", append(w.SSH.ClientArgs(), "git -C "+w.Path("work", "api")+" log --oneline -1")...)
	case w.SSH == nil && w.have("ssh", "ssh"):
		w.cmd("", "ssh", "-V")
	}
}

func (w *Workload) writeZip(rel string, files map[string]string) {
	w.T.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		f, err := zw.Create(n)
		if err == nil {
			_, err = f.Write([]byte(files[n]))
		}
		if err != nil {
			w.T.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		w.T.Fatal(err)
	}
	w.write(rel, buf.String())
}
