// Command dist builds Vigil's release artifacts into a folder (dist/ by default), in two kinds:
// vigil-agent, the agent-only build (-tags agentonly) that laptops run, for Linux, macOS and
// Windows on amd64 and arm64; and vigil-server, the full build (server, web UI, agent, release
// tools), for Linux on amd64 and arm64. For Linux each kind is a .deb, an .rpm and an .apk; for
// Windows a zip (vigil.exe Authenticode-signed with osslsigncode when -sign-cert is given); for
// macOS a tarball; and a SHA-256 checksums file covers them all. Names say the kind, the OS and
// the architecture: KIND_VERSION_OS_ARCH.EXT. The binaries stay in BIN/KIND/OS_ARCH/ (the
// signed vigil.exe on Windows) for `vigil release publish`. The version comes from
// `git describe --tags --always --dirty` unless -version is given. Targets build -j at a time
// (default: the number of CPUs, at most 4), each kind of a target after the other, so that no
// two builds compile the same packages at once and the full build reuses the agent's. Earlier
// artifacts in the folder are removed first. `make dist` runs it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vigilhq/vigil/installer/packaging"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "dist:", err)
		os.Exit(1)
	}
}

// options are the command line's.
type options struct {
	out, version, commit string
	formats              []string
	signer               *packaging.Signer
	mtime                time.Time
}

// target is one OS/ARCH and the kinds built for it.
type target struct {
	goos, goarch string
	kinds        []packaging.Kind
}

func run() error {
	var (
		out       = flag.String("out", "dist", "output folder")
		version   = flag.String("version", "", "package version (default: from git describe)")
		agents    = flag.String("targets", "linux/amd64,linux/arm64,windows/amd64,windows/arm64,darwin/amd64,darwin/arm64", "OS/ARCH pairs to build vigil-agent (the agent-only build) for")
		servers   = flag.String("server-targets", "linux/amd64,linux/arm64", "OS/ARCH pairs to build vigil-server (the full build) for")
		formats   = flag.String("formats", "deb,rpm,apk", "Linux package formats")
		jobs      = flag.Int("j", min(runtime.NumCPU(), 4), "targets built at once")
		signer    packaging.Signer
		startTime = time.Now()
	)
	flag.StringVar(&signer.Cert, "sign-cert", "", "Authenticode certificate (PEM chain with -sign-key, or a PKCS#12 file) to sign vigil.exe")
	flag.StringVar(&signer.Key, "sign-key", "", "PEM private key of -sign-cert")
	flag.StringVar(&signer.Timestamp, "sign-timestamp", "", "RFC 3161 time-stamping server URL")
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	if *jobs < 1 {
		return fmt.Errorf("-j %d: want at least 1", *jobs)
	}
	signer.Pass = os.Getenv("VIGIL_SIGN_PASSWORD")
	o := options{out: *out, version: *version}
	if signer.Cert != "" {
		o.signer = &signer
	}
	for _, f := range strings.Split(*formats, ",") {
		f = strings.TrimSpace(f)
		if !slices.Contains(packaging.LinuxFormats, f) {
			return fmt.Errorf("-formats: %q is not one of %v", f, packaging.LinuxFormats)
		}
		o.formats = append(o.formats, f)
	}
	targets, err := plan(*agents, *servers)
	if err != nil {
		return err
	}

	if o.version == "" {
		d, err := exec.Command("git", "describe", "--tags", "--always", "--dirty").Output()
		if err != nil {
			return fmt.Errorf("git describe: %w", err)
		}
		o.version = packaging.Version(string(d))
	}
	if c, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil {
		o.commit = strings.TrimSpace(string(c))
	}
	// Reproducible: every entry is stamped with the last commit's time.
	o.mtime = time.Unix(0, 0).UTC()
	if ct, err := exec.Command("git", "log", "-1", "--format=%ct").Output(); err == nil {
		var sec int64
		if _, err := fmt.Sscan(strings.TrimSpace(string(ct)), &sec); err == nil {
			o.mtime = time.Unix(sec, 0).UTC()
		}
	}
	if err := clean(o.out); err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		mu        sync.Mutex
		artifacts []string
		errs      []error
		wg        sync.WaitGroup
		queue     = make(chan target)
	)
	report := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Printf(format+"\n", args...)
	}
	for range *jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range queue {
				made, err := buildTarget(ctx, o, t, report)
				mu.Lock()
				artifacts = append(artifacts, made...)
				if err != nil && ctx.Err() == nil { // the first failure; those it cancels say nothing more
					errs = append(errs, err)
					cancel()
				}
				mu.Unlock()
			}
		}()
	}
	for _, t := range targets {
		queue <- t
	}
	close(queue)
	wg.Wait()
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	sums := filepath.Join(o.out, fmt.Sprintf("vigil_%s_checksums.txt", o.version))
	if err := packaging.Checksums(sums, artifacts); err != nil {
		return err
	}
	fmt.Printf("%s (%d artifacts)\ndone in %s\n", sums, len(artifacts), time.Since(startTime).Round(100*time.Millisecond))
	return nil
}

// plan turns the -targets and -server-targets lists into targets, the busiest first (the
// Linux ones, with both kinds and three formats), so that the last to finish is a short one.
func plan(agents, servers string) ([]target, error) {
	var out []target
	add := func(list string, kind packaging.Kind, flagName string) error {
		for _, t := range strings.Split(list, ",") {
			if t = strings.TrimSpace(t); t == "" {
				continue
			}
			goos, goarch, ok := strings.Cut(t, "/")
			if !ok {
				return fmt.Errorf("%s: %q is not OS/ARCH", flagName, t)
			}
			switch goos {
			case "linux", "darwin", "windows":
			default:
				return fmt.Errorf("%s: no artifact for %s", flagName, goos)
			}
			i := slices.IndexFunc(out, func(x target) bool { return x.goos == goos && x.goarch == goarch })
			if i < 0 {
				out = append(out, target{goos: goos, goarch: goarch})
				i = len(out) - 1
			}
			if !slices.Contains(out[i].kinds, kind) {
				out[i].kinds = append(out[i].kinds, kind)
			}
		}
		return nil
	}
	if err := add(agents, packaging.Agent, "-targets"); err != nil {
		return nil, err
	}
	if err := add(servers, packaging.Server, "-server-targets"); err != nil {
		return nil, err
	}
	weight := func(t target) int {
		w := len(t.kinds)
		if t.goos == "linux" {
			w *= 2
		}
		return w
	}
	slices.SortStableFunc(out, func(a, b target) int { return weight(b) - weight(a) })
	return out, nil
}

// clean removes what an earlier run left in out: its artifacts, checksums and binaries.
func clean(out string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	var old []string
	for _, pattern := range []string{"vigil_*", "vigil-agent_*", "vigil-server_*"} {
		m, err := filepath.Glob(filepath.Join(out, pattern))
		if err != nil {
			return err
		}
		old = append(old, m...)
	}
	for _, p := range append(old, filepath.Join(out, "bin"), filepath.Join(out, ".bin")) {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("clean %s: %w", out, err)
		}
	}
	return nil
}

// buildTarget builds each kind of t in turn (the agent first: the full build then finds most
// of its packages compiled) and packages it; it returns the artifacts made.
func buildTarget(ctx context.Context, o options, t target, report func(string, ...any)) ([]string, error) {
	var made []string
	for _, kind := range t.kinds {
		b := packaging.Build{Kind: kind, Version: o.version, OS: t.goos, Arch: t.goarch, OutDir: o.out, MTime: o.mtime}
		exe := "vigil"
		if t.goos == "windows" {
			exe = "vigil.exe"
		}
		b.Binary = filepath.Join(o.out, "bin", kind.Name(), t.goos+"_"+t.goarch, exe)
		start := time.Now()
		if err := buildBinary(ctx, o, b); err != nil {
			return made, err
		}
		if t.goos == "windows" && o.signer != nil {
			unsigned := b.Binary + ".unsigned"
			if err := os.Rename(b.Binary, unsigned); err != nil {
				return made, err
			}
			if err := o.signer.Sign(unsigned, b.Binary); err != nil {
				return made, err
			}
			if err := os.Remove(unsigned); err != nil {
				return made, err
			}
		}
		report("built %s %s/%s in %s: %s", kind, t.goos, t.goarch, time.Since(start).Round(100*time.Millisecond), sized(b.Binary))
		var formats []string
		switch t.goos {
		case "linux":
			formats = o.formats
		case "windows":
			formats = []string{"zip"}
		case "darwin":
			formats = []string{"tar.gz"}
		}
		for _, f := range formats {
			var (
				p   string
				err error
			)
			switch f {
			case "zip":
				p, err = packaging.WindowsZip(b)
			case "tar.gz":
				p, err = packaging.Tarball(b)
			default:
				p, err = packaging.Linux(f, b)
			}
			if err != nil {
				return made, err
			}
			made = append(made, p)
			report("  %s", sized(p))
		}
	}
	return made, nil
}

// sized is path with its size in MiB.
func sized(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return path
	}
	return fmt.Sprintf("%s (%.1f MiB)", path, float64(fi.Size())/(1<<20))
}

// buildBinary cross-compiles cmd/vigil for b (with b.Kind's build tags), static and
// reproducible, with the version linked in. Its output is shown when it fails.
func buildBinary(ctx context.Context, o options, b packaging.Build) error {
	ldflags := fmt.Sprintf("-s -w -X github.com/vigilhq/vigil/internal/version.Version=%s -X github.com/vigilhq/vigil/internal/version.Commit=%s -X github.com/vigilhq/vigil/internal/version.Date=%s",
		b.Version, o.commit, o.mtime.Format(time.RFC3339))
	args := []string{"build", "-trimpath", "-ldflags", ldflags}
	if tags := b.Kind.Tags(); tags != "" {
		args = append(args, "-tags", tags)
	}
	args = append(args, "-o", b.Binary, "./cmd/vigil")
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Env = append(os.Environ(), "GOOS="+b.OS, "GOARCH="+b.Arch, "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s %s/%s: %w\n%s", b.Kind, b.OS, b.Arch, err, out)
	}
	return nil
}
