package packaging

import (
	"archive/tar"
	"archive/zip"
	"bytes"
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
	"strconv"
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

// Kind is which build of vigil an artifact carries, and so which service its package installs.
type Kind int

const (
	// Agent is the agent-only build (-tags agentonly): the endpoint agent, `scan` and the policy
	// tools, about half the full build's size and a smaller resident set. Laptops get it, as
	// the vigil-agent package, which installs the agent's service.
	Agent Kind = iota
	// Server is the full build: the server and its web UI, the agent and the release tools. It
	// ships as the vigil-server package, which installs the server's service.
	Server
)

// Name is the package's name, which also starts the artifact's file name: vigil-agent or
// vigil-server.
func (k Kind) Name() string {
	if k == Server {
		return "vigil-server"
	}
	return "vigil-agent"
}

// Tags are the build tags of the binary the artifact carries (go build -tags).
func (k Kind) Tags() string {
	if k == Server {
		return ""
	}
	return "agentonly"
}

// String is the kind's package name.
func (k Kind) String() string { return k.Name() }

// Build is one binary to package.
type Build struct {
	Kind    Kind   // the agent-only build (Agent, the zero value) or the full one (Server)
	Version string // package version (Version turns `git describe` into one)
	OS      string // GOOS: linux, darwin, windows
	Arch    string // GOARCH: amd64, arm64
	Binary  string // the vigil binary built for OS/Arch with Kind's tags
	OutDir  string // where the artifact is written
	// MTime stamps the archives' entries, so that the same inputs give the same bytes.
	MTime time.Time
}

// FileName is the artifact's name: NAME_VERSION_OS_ARCH.EXT, NAME being vigil-agent or
// vigil-server.
func (b Build) FileName(ext string) string {
	return fmt.Sprintf("%s_%s_%s_%s.%s", b.Kind.Name(), b.Version, b.OS, b.Arch, ext)
}

var describeRe = regexp.MustCompile(`^v?(\d+)\.(\d+)\.(\d+)(?:-(\d+)-g([0-9a-f]+))?(-dirty)?$`)

// Version turns `git describe --tags --always --dirty` output into a package version: v1.2.3
// gives 1.2.3; v1.2.3-4-gabc1234, four commits after it, gives 1.2.4-dev.4+gabc1234, a
// pre-release of the next version, which sorts above 1.2.3 and below 1.2.4 (in semver, dpkg and
// rpm alike); a bare commit (no tag yet) gives 0.0.0-dev+gCOMMIT. -dirty becomes .dirty in the
// metadata.
func Version(describe string) string {
	d := strings.TrimSpace(describe)
	if m := describeRe.FindStringSubmatch(d); m != nil {
		v := m[1] + "." + m[2] + "." + m[3]
		switch {
		case m[4] != "":
			patch, _ := strconv.Atoi(m[3])
			v = fmt.Sprintf("%s.%s.%d-dev.%s+g%s", m[1], m[2], patch+1, m[4], m[5])
			if m[6] != "" {
				v += ".dirty"
			}
		case m[6] != "":
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

var versionRe = regexp.MustCompile(`^(\d+\.\d+\.\d+)(?:-dev\.(\d+))?`)

// apkVersion writes version as apk-tools expects it, whose suffixes are a fixed list and which
// has no build metadata: 1.2.3 stays; 1.2.4-dev.4+gabc1234 gives 1.2.4_pre4 (sorting below
// 1.2.4, as in semver); 0.0.0-dev+gCOMMIT gives 0.0.0_pre0.
func apkVersion(version string) string {
	m := versionRe.FindStringSubmatch(version)
	if m == nil {
		return version // Validate and the packager report what is wrong with it
	}
	switch {
	case m[2] != "":
		return m[1] + "_pre" + m[2]
	case strings.HasPrefix(version[len(m[1]):], "-dev"):
		return m[1] + "_pre0"
	}
	return m[1]
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

// Linux builds the native package of format (deb, rpm or apk) and returns its path: b.Kind's
// binary as /usr/bin/vigil, with its maintainer scripts (files/agent or files/server) and, for
// the agent, the default configuration /usr/share/vigil/agent.yml. The two packages conflict
// (both hold /usr/bin/vigil); on Debian vigil-server also replaces vigil-agent, whose agent
// then runs on from the full build.
func Linux(format string, b Build) (string, error) {
	if b.OS != "linux" {
		return "", fmt.Errorf("package %s: %s is not a Linux build", format, b.Binary)
	}
	stage, err := os.MkdirTemp("", "vigil-package-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(stage)
	// stageFile writes text into the staging folder, stamped with b.MTime (the apk's control
	// entries carry the files' times).
	stageFile := func(name, text string) (string, error) {
		p := filepath.Join(stage, name)
		if err := os.WriteFile(p, []byte(text), 0o755); err != nil {
			return "", err
		}
		if !b.MTime.IsZero() {
			if err := os.Chtimes(p, b.MTime, b.MTime); err != nil {
				return "", err
			}
		}
		return p, nil
	}
	scripts := map[string]string{}
	dir := map[Kind]string{Agent: "agent/", Server: "server/"}[b.Kind]
	for _, s := range []string{"postinstall.sh", "preremove.sh", "postremove.sh"} {
		p, err := stageFile(s, asset(dir+s))
		if err != nil {
			return "", err
		}
		scripts[s] = p
	}
	contents := files.Contents{
		{Source: b.Binary, Destination: PackageBinary, FileInfo: &files.ContentFileInfo{Mode: 0o755, MTime: b.MTime}},
	}
	info := &nfpm.Info{
		Name:       b.Kind.Name(),
		Arch:       b.Arch,
		Platform:   "linux",
		Version:    b.Version,
		Section:    "admin",
		Priority:   "optional",
		Maintainer: "Vigil maintainers <vigil@localhost>",
		Vendor:     "Vigil",
		License:    "Apache-2.0",
		MTime:      b.MTime,
		Overridables: nfpm.Overridables{
			Scripts: nfpm.Scripts{
				PostInstall: scripts["postinstall.sh"],
				PreRemove:   scripts["preremove.sh"],
				PostRemove:  scripts["postremove.sh"],
			},
			APK: nfpm.APK{Scripts: nfpm.APKScripts{PostUpgrade: scripts["postinstall.sh"]}},
			RPM: nfpm.RPM{Group: "System Environment/Daemons"},
		},
	}
	other := Server
	switch b.Kind {
	case Agent:
		cfg, err := stageFile("agent.yml", DefaultConfig("linux"))
		if err != nil {
			return "", err
		}
		contents = append(contents, &files.Content{Source: cfg, Destination: "/usr/share/vigil/agent.yml", FileInfo: &files.ContentFileInfo{Mode: 0o644, MTime: b.MTime}})
		info.Description = "Vigil endpoint agent (agent-only build): watches this computer for remote-access tools, IP-KVMs, laptop farms and data staging, and reports to the Vigil server."
		info.RPM.Summary = "Vigil insider-activity detection agent"
	case Server:
		other = Agent
		info.Description = "Vigil server (full build): the central collector with its web UI and API, the agent, and the release tools."
		info.RPM.Summary = "Vigil insider-activity detection server"
		if format == "deb" {
			info.Replaces = []string{Agent.Name()}
		}
	default:
		return "", fmt.Errorf("package %s: unknown kind %d", format, b.Kind)
	}
	info.Contents = contents
	if format == "apk" {
		info.Depends = []string{"!" + other.Name()} // apk's way of saying conflicts
	} else {
		info.Conflicts = []string{other.Name()}
	}
	if format == "apk" {
		info.Version, info.VersionSchema = apkVersion(b.Version), "none"
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

// PackageBinary is where the Linux packages put vigil.
const PackageBinary = "/usr/bin/vigil"

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

// readme is the archive's README.txt: how to install what it holds.
func readme(b Build) string {
	exe, prompt := "./vigil", "sudo "
	if b.OS == "windows" {
		exe, prompt = `.\vigil.exe`, ""
	}
	install := prompt + exe + " agent install --server https://SERVER:8443 --enroll-secret SECRET --ca-pin sha256:PIN"
	text := asset("README-agent.txt")
	if b.Kind == Server {
		install = prompt + exe + " server install --listen :8443 --hostname vigil.example.internal"
		text = asset("README-server.txt")
	}
	return strings.NewReplacer("@VERSION@", b.Version, "@OS@", b.OS, "@ARCH@", b.Arch, "@INSTALL@", "  "+install).Replace(text)
}

// archiveFiles are the files of a Windows zip or a macOS tarball besides the binary: the
// agent's default configuration (for the agent) and README.txt.
func archiveFiles(b Build) []archiveFile {
	var out []archiveFile
	if b.Kind == Agent {
		out = append(out, archiveFile{"agent.yml", []byte(DefaultConfig(b.OS))})
	}
	return append(out, archiveFile{"README.txt", []byte(readme(b))})
}

type archiveFile struct {
	name string
	data []byte
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

// WindowsZip writes the Windows zip: vigil.exe (b.Binary, signed beforehand with Signer when
// a certificate is given), agent.yml for the agent, and README.txt.
func WindowsZip(b Build) (string, error) {
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
		f, err := os.Open(b.Binary)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := add("vigil.exe", 0o755, f); err != nil {
			return err
		}
		for _, af := range archiveFiles(b) {
			if err := add(af.name, 0o644, bytes.NewReader(af.data)); err != nil {
				return err
			}
		}
		return z.Close()
	})
	if err != nil {
		return "", fmt.Errorf("windows zip: %w", err)
	}
	return out, nil
}

// Tarball writes a .tar.gz (the macOS archive): vigil, agent.yml for the agent, and README.txt,
// in a folder named after the artifact.
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
		if err := add("vigil", 0o755, bin); err != nil {
			return err
		}
		for _, af := range archiveFiles(b) {
			if err := add(af.name, 0o644, af.data); err != nil {
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
