// Command dist builds Vigil's release artifacts into a folder (dist/ by default): for Linux
// amd64 and arm64 a .deb, an .rpm and an .apk; for Windows a zip (vigil.exe Authenticode-signed
// with osslsigncode when -sign-cert is given); for macOS a tarball; and a SHA-256 checksums
// file. Names say the OS and the architecture: vigil_VERSION_OS_ARCH.EXT. The version comes
// from `git describe --tags --always --dirty` unless -version is given. `make dist` runs it.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/vigilhq/vigil/installer/packaging"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "dist:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		out     = flag.String("out", "dist", "output folder")
		version = flag.String("version", "", "package version (default: from git describe)")
		targets = flag.String("targets", "linux/amd64,linux/arm64,windows/amd64,windows/arm64,darwin/amd64,darwin/arm64", "OS/ARCH pairs to build")
		formats = flag.String("formats", "deb,rpm,apk", "Linux package formats")
		signer  packaging.Signer
	)
	flag.StringVar(&signer.Cert, "sign-cert", "", "Authenticode certificate (PEM chain with -sign-key, or a PKCS#12 file) to sign vigil.exe")
	flag.StringVar(&signer.Key, "sign-key", "", "PEM private key of -sign-cert")
	flag.StringVar(&signer.Timestamp, "sign-timestamp", "", "RFC 3161 time-stamping server URL")
	flag.Parse()
	signer.Pass = os.Getenv("VIGIL_SIGN_PASSWORD")

	if *version == "" {
		d, err := exec.Command("git", "describe", "--tags", "--always", "--dirty").Output()
		if err != nil {
			return fmt.Errorf("git describe: %w", err)
		}
		*version = packaging.Version(string(d))
	}
	// Reproducible: every entry is stamped with the last commit's time.
	mtime := time.Unix(0, 0).UTC()
	if ct, err := exec.Command("git", "log", "-1", "--format=%ct").Output(); err == nil {
		var sec int64
		if _, err := fmt.Sscan(strings.TrimSpace(string(ct)), &sec); err == nil {
			mtime = time.Unix(sec, 0).UTC()
		}
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	bins := filepath.Join(*out, ".bin")
	defer os.RemoveAll(bins)
	var artifacts []string
	for _, t := range strings.Split(*targets, ",") {
		goos, goarch, ok := strings.Cut(strings.TrimSpace(t), "/")
		if !ok {
			return fmt.Errorf("-targets: %q is not OS/ARCH", t)
		}
		b := packaging.Build{Version: *version, OS: goos, Arch: goarch, OutDir: *out, MTime: mtime}
		b.Binary = filepath.Join(bins, goos+"_"+goarch, map[bool]string{true: "vigil.exe", false: "vigil"}[goos == "windows"])
		fmt.Printf("build %s/%s\n", goos, goarch)
		if err := buildBinary(b, mtime); err != nil {
			return err
		}
		var made []string
		switch goos {
		case "linux":
			for _, f := range strings.Split(*formats, ",") {
				p, err := packaging.Linux(strings.TrimSpace(f), b)
				if err != nil {
					return err
				}
				made = append(made, p)
			}
		case "windows":
			var s *packaging.Signer
			if signer.Cert != "" {
				s = &signer
			}
			p, err := packaging.WindowsZip(b, s)
			if err != nil {
				return err
			}
			made = append(made, p)
		case "darwin":
			p, err := packaging.Tarball(b)
			if err != nil {
				return err
			}
			made = append(made, p)
		default:
			return fmt.Errorf("-targets: no artifact for %s", goos)
		}
		for _, p := range made {
			fmt.Println("  " + p)
		}
		artifacts = append(artifacts, made...)
	}
	sums := filepath.Join(*out, fmt.Sprintf("vigil_%s_checksums.txt", *version))
	if err := packaging.Checksums(sums, artifacts); err != nil {
		return err
	}
	fmt.Println("  " + sums)
	return nil
}

// buildBinary cross-compiles cmd/vigil for b, static and reproducible, with the version linked in.
func buildBinary(b packaging.Build, mtime time.Time) error {
	commit, _ := exec.Command("git", "rev-parse", "HEAD").Output()
	ldflags := fmt.Sprintf("-s -w -X github.com/vigilhq/vigil/internal/version.Version=%s -X github.com/vigilhq/vigil/internal/version.Commit=%s -X github.com/vigilhq/vigil/internal/version.Date=%s",
		b.Version, strings.TrimSpace(string(commit)), mtime.Format(time.RFC3339))
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", ldflags, "-o", b.Binary, "./cmd/vigil")
	cmd.Env = append(os.Environ(), "GOOS="+b.OS, "GOARCH="+b.Arch, "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s/%s: %w", b.OS, b.Arch, err)
	}
	return nil
}
