package packaging

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/apk" // registers the apk packager
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the deb packager
	"github.com/goreleaser/nfpm/v2/files"
	_ "github.com/goreleaser/nfpm/v2/rpm" // registers the rpm packager
)

//go:embed files
var assets embed.FS

// LinuxFormats are the native package formats built for Linux.
var LinuxFormats = []string{"deb", "rpm", "apk"}

// Build is one binary to package.
type Build struct {
	Version string // package version (Version turns `git describe` into one)
	OS      string // GOOS: linux, darwin, windows
	Arch    string // GOARCH: amd64, arm64
	Binary  string // the vigil binary built for OS/Arch
	OutDir  string // where the artifact is written
	// MTime stamps the archives' entries, so that the same inputs give the same bytes.
	MTime time.Time
}

// FileName is the artifact's name: vigil_VERSION_OS_ARCH.EXT.
func (b Build) FileName(ext string) string {
	return fmt.Sprintf("vigil_%s_%s_%s.%s", b.Version, b.OS, b.Arch, ext)
}

var describeRe = regexp.MustCompile(`^v?(\d+\.\d+\.\d+)(?:-(\d+)-g([0-9a-f]+))?(-dirty)?$`)

// Version turns `git describe --tags --always --dirty` output into a package version: v1.2.3
// gives 1.2.3; v1.2.3-4-gabc1234 gives 1.2.3-dev.4+gabc1234 (a pre-release of the next one
// sorts below 1.2.3 in semver but the build metadata keeps it apart); a bare commit (no tag yet)
// gives 0.0.0-dev+gCOMMIT. -dirty becomes .dirty in the metadata.
func Version(describe string) string {
	d := strings.TrimSpace(describe)
	if m := describeRe.FindStringSubmatch(d); m != nil {
		v := m[1]
		switch {
		case m[2] != "":
			v += "-dev." + m[2] + "+g" + m[3]
			if m[4] != "" {
				v += ".dirty"
			}
		case m[4] != "":
			v += "+dirty"
		}
		return v
	}
	commit, dirty := strings.CutSuffix(d, "-dirty")
	v := "0.0.0-dev+g" + commit
	if dirty {
		v += ".dirty"
	}
	return v
}

func asset(name string) string {
	b, err := assets.ReadFile("files/" + name)
	if err != nil {
		panic(err) // embedded at build time: cannot be missing
	}
	return string(b)
}

// DefaultConfig is the default agent configuration shipped for goos.
func DefaultConfig(goos string) string {
	state := map[string]string{
		"linux":   "/var/lib/vigil",
		"darwin":  `"/Library/Application Support/Vigil/state"`,
		"windows": `'C:\ProgramData\Vigil\state'`,
	}[goos]
	return strings.ReplaceAll(asset("agent.yml"), "@STATE@", state)
}

// Linux builds the native package of format (deb, rpm or apk) and returns its path.
func Linux(format string, b Build) (string, error) {
	if b.OS != "linux" {
		return "", fmt.Errorf("package %s: %s is not a Linux build", format, b.Binary)
	}
	stage, err := os.MkdirTemp("", "vigil-package-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(stage)
	write := func(name, text string, mode os.FileMode) (string, error) {
		p := filepath.Join(stage, name)
		return p, os.WriteFile(p, []byte(text), mode)
	}
	scripts := map[string]string{}
	for _, s := range []string{"postinstall.sh", "preremove.sh", "postremove.sh", "agent.yml"} {
		text := asset(s)
		if s == "agent.yml" {
			text = DefaultConfig("linux")
		}
		p, err := write(s, text, 0o755)
		if err != nil {
			return "", err
		}
		scripts[s] = p
	}
	info := &nfpm.Info{
		Name:        "vigil",
		Arch:        b.Arch,
		Platform:    "linux",
		Version:     b.Version,
		Section:     "admin",
		Priority:    "optional",
		Maintainer:  "Vigil maintainers <vigil@localhost>",
		Description: "Insider-activity detection agent and server: remote-access tools, IP-KVMs, laptop farms and data staging on company laptops.",
		Vendor:      "Vigil",
		License:     "Apache-2.0",
		MTime:       b.MTime,
		Overridables: nfpm.Overridables{
			Contents: files.Contents{
				{Source: b.Binary, Destination: "/usr/bin/vigil", FileInfo: &files.ContentFileInfo{Mode: 0o755, MTime: b.MTime}},
				{Source: scripts["agent.yml"], Destination: "/usr/share/vigil/agent.yml", FileInfo: &files.ContentFileInfo{Mode: 0o644, MTime: b.MTime}},
			},
			Scripts: nfpm.Scripts{
				PostInstall: scripts["postinstall.sh"],
				PreRemove:   scripts["preremove.sh"],
				PostRemove:  scripts["postremove.sh"],
			},
			APK: nfpm.APK{Scripts: nfpm.APKScripts{PostUpgrade: scripts["postinstall.sh"]}},
			RPM: nfpm.RPM{Group: "System Environment/Daemons", Summary: "Vigil insider-activity detection agent"},
		},
	}
	info = nfpm.WithDefaults(info)
	if err := info.Validate(); err != nil {
		return "", fmt.Errorf("package %s: %w", format, err)
	}
	pkgr, err := nfpm.Get(format)
	if err != nil {
		return "", fmt.Errorf("package %s: %w", format, err)
	}
	out := filepath.Join(b.OutDir, b.FileName(format))
	if err := writeFile(out, func(w io.Writer) error { return pkgr.Package(info, w) }); err != nil {
		return "", fmt.Errorf("package %s: %w", format, err)
	}
	return out, nil
}

// writeFile creates path with what fill writes, removing it when fill fails.
func writeFile(path string, fill func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := fill(f); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

func readme(b Build) string {
	install := "  sudo ./vigil agent install --server https://SERVER:8443 --enroll-secret SECRET --ca-pin sha256:PIN"
	if b.OS == "windows" {
		install = "  .\\vigil.exe agent install --server https://SERVER:8443 --enroll-secret SECRET --ca-pin sha256:PIN"
	}
	return strings.NewReplacer("@VERSION@", b.Version, "@OS@", b.OS, "@ARCH@", b.Arch, "@INSTALL@", install).Replace(asset("README.txt"))
}

// Signer signs Windows executables with Authenticode through osslsigncode.
type Signer struct {
	Cert string // PEM (or DER) certificate chain, or a PKCS#12 file when Key is empty
	Key  string // PEM private key
	Pass string // password of Key or of the PKCS#12 file
	// Timestamp is an RFC 3161 time-stamping server's URL; empty signs without a timestamp.
	Timestamp string
	Tool      string // osslsigncode; empty finds it on PATH
}

// Sign writes a signed copy of in to out.
func (s *Signer) Sign(in, out string) error {
	tool := s.Tool
	if tool == "" {
		tool = "osslsigncode"
	}
	args := []string{"sign", "-h", "sha256", "-n", "Vigil", "-in", in, "-out", out}
	if s.Key != "" {
		args = append(args, "-certs", s.Cert, "-key", s.Key)
	} else {
		args = append(args, "-pkcs12", s.Cert)
	}
	if s.Pass != "" {
		args = append(args, "-pass", s.Pass)
	}
	if s.Timestamp != "" {
		args = append(args, "-ts", s.Timestamp)
	}
	if out, err := exec.Command(tool, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("authenticode signing of %s: %w: %s", in, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// WindowsZip writes the Windows zip: vigil.exe (signed when signer is not nil), agent.yml and
// README.txt.
func WindowsZip(b Build, signer *Signer) (string, error) {
	exe := b.Binary
	if signer != nil {
		dir, err := os.MkdirTemp("", "vigil-sign-")
		if err != nil {
			return "", err
		}
		defer os.RemoveAll(dir)
		exe = filepath.Join(dir, "vigil.exe")
		if err := signer.Sign(b.Binary, exe); err != nil {
			return "", err
		}
	}
	out := filepath.Join(b.OutDir, b.FileName("zip"))
	err := writeFile(out, func(w io.Writer) error {
		z := zip.NewWriter(w)
		add := func(name string, mode os.FileMode, r io.Reader) error {
			h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: b.MTime}
			h.SetMode(mode)
			fw, err := z.CreateHeader(h)
			if err != nil {
				return err
			}
			_, err = io.Copy(fw, r)
			return err
		}
		f, err := os.Open(exe)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := add("vigil.exe", 0o755, f); err != nil {
			return err
		}
		if err := add("agent.yml", 0o644, strings.NewReader(DefaultConfig("windows"))); err != nil {
			return err
		}
		if err := add("README.txt", 0o644, strings.NewReader(readme(b))); err != nil {
			return err
		}
		return z.Close()
	})
	if err != nil {
		return "", fmt.Errorf("windows zip: %w", err)
	}
	return out, nil
}

// Tarball writes a .tar.gz (the macOS archive): vigil, agent.yml and README.txt in a folder
// named after the artifact.
func Tarball(b Build) (string, error) {
	name := b.FileName("tar.gz")
	top := strings.TrimSuffix(name, ".tar.gz")
	out := filepath.Join(b.OutDir, name)
	err := writeFile(out, func(w io.Writer) error {
		gz := gzip.NewWriter(w)
		tw := tar.NewWriter(gz)
		add := func(path string, mode int64, data []byte) error {
			if err := tw.WriteHeader(&tar.Header{Name: top + "/" + path, Mode: mode, Size: int64(len(data)), ModTime: b.MTime, Typeflag: tar.TypeReg, Uname: "root", Gname: "wheel"}); err != nil {
				return err
			}
			_, err := tw.Write(data)
			return err
		}
		bin, err := os.ReadFile(b.Binary)
		if err != nil {
			return err
		}
		for _, f := range []struct {
			name string
			mode int64
			data []byte
		}{{"vigil", 0o755, bin}, {"agent.yml", 0o644, []byte(DefaultConfig(b.OS))}, {"README.txt", 0o644, []byte(readme(b))}} {
			if err := add(f.name, f.mode, f.data); err != nil {
				return err
			}
		}
		if err := tw.Close(); err != nil {
			return err
		}
		return gz.Close()
	})
	if err != nil {
		return "", fmt.Errorf("tarball: %w", err)
	}
	return out, nil
}

// Checksums writes path with one "SHA256  NAME" line per file (sha256sum's format, names
// sorted), so that `sha256sum -c` checks them in the same folder.
func Checksums(path string, paths []string) error {
	var lines []string
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("checksums: %w", err)
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("checksums: %s: %w", p, err)
		}
		lines = append(lines, hex.EncodeToString(h.Sum(nil))+"  "+filepath.Base(p))
	}
	sort.Slice(lines, func(i, j int) bool { return lines[i][66:] < lines[j][66:] })
	return os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}
