package packaging

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"debug/buildinfo"
	"encoding/pem"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestVersion(t *testing.T) {
	for in, want := range map[string]string{
		"v1.2.3\n":                "1.2.3",
		"v1.2.3-dirty":            "1.2.3+dirty",
		"v1.2.3-4-gabc1234":       "1.2.4-dev.4+gabc1234",
		"v1.2.9-4-gabc1234-dirty": "1.2.10-dev.4+gabc1234.dirty",
		"1a2b3c4":                 "0.0.0-dev+g1a2b3c4",
		"1a2b3c4-dirty":           "0.0.0-dev+g1a2b3c4.dirty",
	} {
		if got := Version(in); got != want {
			t.Errorf("Version(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"1.2.3":                      "1.2.3",
		"1.2.3+dirty":                "1.2.3",
		"1.2.4-dev.4+gabc1234":       "1.2.4_pre4",
		"1.2.4-dev.4+gabc1234.dirty": "1.2.4_pre4",
		"0.0.0-dev+g1a2b3c4":         "0.0.0_pre0",
	} {
		if got := apkVersion(in); got != want {
			t.Errorf("apkVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestVersionOrder: a build after a tag sorts above the tag and below the next version, as
// dpkg compares the versions the packages carry.
func TestVersionOrder(t *testing.T) {
	dpkg := need(t, "dpkg", "dpkg")
	after := Version("v1.2.3-4-gabc1234")
	deb := strings.NewReplacer("-", "~").Replace(after) // what nfpm writes in a .deb
	for _, c := range [][3]string{{deb, "gt", "1.2.3"}, {deb, "lt", "1.2.4"}} {
		if err := exec.Command(dpkg, "--compare-versions", c[0], c[1], c[2]).Run(); err != nil {
			t.Errorf("dpkg: %s %s %s is false", c[0], c[1], c[2])
		}
	}
}

// need finds a tool the test uses, or skips (fails when CI says everything must be there).
func need(t *testing.T, tool, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		if os.Getenv("VIGIL_REQUIRE_TESTDATA") == "1" {
			t.Fatalf("%s not found (Debian package %s); .ci/run installs it", tool, pkg)
		}
		t.Skipf("%s not found (Debian package %s)", tool, pkg)
	}
	return p
}

func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

var (
	builtMu  sync.Mutex
	built    = map[Kind]string{}
	buildDir string
)

// linuxBinary builds vigil for linux/amd64 as kind's packages carry it (the agent-only build for
// vigil-agent, the full one for vigil-server), once per kind for the package tests.
func linuxBinary(t *testing.T, kind Kind) string {
	t.Helper()
	builtMu.Lock()
	defer builtMu.Unlock()
	if p, ok := built[kind]; ok {
		return p
	}
	if buildDir == "" {
		d, err := os.MkdirTemp("", "vigil-packaging-test-")
		if err != nil {
			t.Fatal(err)
		}
		buildDir = d
	}
	bin := filepath.Join(buildDir, kind.Name())
	cmd := exec.Command("go", "build", "-tags", kind.Tags(), "-ldflags", "-X github.com/vigilhq/vigil/internal/version.Version=1.2.3", "-o", bin, "./cmd/vigil")
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=amd64", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build vigil (%s): %v\n%s", kind, err, out)
	}
	built[kind] = bin
	return bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

func linuxBuild(t *testing.T, kind Kind) Build {
	return Build{Kind: kind, Version: "1.2.3", OS: "linux", Arch: "amd64", Binary: linuxBinary(t, kind), OutDir: t.TempDir(), MTime: time.Unix(1700000000, 0)}
}

// other is the kind the package of kind conflicts with.
func other(kind Kind) Kind { return map[Kind]Kind{Agent: Server, Server: Agent}[kind] }

func TestKinds(t *testing.T) {
	for kind, want := range map[Kind][2]string{Agent: {"vigil-agent", "agentonly"}, Server: {"vigil-server", ""}} {
		if kind.Name() != want[0] || kind.Tags() != want[1] {
			t.Errorf("kind %d: name %q tags %q, want %q", kind, kind.Name(), kind.Tags(), want)
		}
		b := Build{Kind: kind, Version: "1.2.3", OS: "linux", Arch: "arm64"}
		if got := b.FileName("deb"); got != want[0]+"_1.2.3_linux_arm64.deb" {
			t.Errorf("file name %s", got)
		}
	}
}

func TestRPM(t *testing.T) {
	rpm := need(t, "rpm", "rpm")
	for _, kind := range []Kind{Agent, Server} {
		t.Run(kind.Name(), func(t *testing.T) {
			p, err := Linux("rpm", linuxBuild(t, kind))
			if err != nil {
				t.Fatal(err)
			}
			if filepath.Base(p) != kind.Name()+"_1.2.3_linux_amd64.rpm" {
				t.Errorf("name %s", filepath.Base(p))
			}
			query := func(args ...string) string {
				out, err := exec.Command(rpm, append([]string{"-qp"}, append(args, p)...)...).CombinedOutput()
				if err != nil {
					t.Fatalf("rpm -qp %v: %v\n%s", args, err, out)
				}
				return string(out)
			}
			lacks(t, "rpm -qpi", query("-i"), []string{"Name        : " + kind.Name(), "Version     : 1.2.3", "Architecture: x86_64", "License     : Apache-2.0"})
			files := []string{"/usr/bin/vigil"}
			if kind == Agent {
				files = append(files, "/usr/share/vigil/agent.yml")
			}
			if got := strings.Fields(query("-l")); !slices.Equal(got, files) {
				t.Errorf("rpm -qpl: %q, want %q", got, files)
			}
			if got := strings.TrimSpace(query("--conflicts")); got != other(kind).Name() {
				t.Errorf("rpm --conflicts: %q", got)
			}
			noun := map[Kind]string{Agent: "agent", Server: "server"}[kind]
			lacks(t, "rpm --scripts", query("--scripts"), []string{"postinstall scriptlet", "vigil " + noun + " install", "preuninstall scriptlet", "vigil " + noun + " uninstall"})
		})
	}
}

func TestDeb(t *testing.T) {
	dpkgDeb := need(t, "dpkg-deb", "dpkg")
	for _, kind := range []Kind{Agent, Server} {
		t.Run(kind.Name(), func(t *testing.T) {
			p, err := Linux("deb", linuxBuild(t, kind))
			if err != nil {
				t.Fatal(err)
			}
			info, err := exec.Command(dpkgDeb, "--info", p).CombinedOutput()
			if err != nil {
				t.Fatalf("dpkg-deb --info: %v\n%s", err, info)
			}
			wants := []string{"Package: " + kind.Name(), "Version: 1.2.3", "Architecture: amd64", "Conflicts: " + other(kind).Name(), "postinst", "prerm", "postrm"}
			if kind == Server {
				wants = append(wants, "Replaces: vigil-agent")
			} else if strings.Contains(string(info), "Replaces:") {
				t.Errorf("vigil-agent replaces something (it must not take vigil-server's place):\n%s", info)
			}
			lacks(t, "dpkg-deb --info", string(info), wants)
			list, err := exec.Command(dpkgDeb, "--contents", p).CombinedOutput()
			if err != nil {
				t.Fatalf("dpkg-deb --contents: %v\n%s", err, list)
			}
			wants = []string{"-rwxr-xr-x root/root", "./usr/bin/vigil"}
			if kind == Agent {
				wants = append(wants, "./usr/share/vigil/agent.yml")
			} else if strings.Contains(string(list), "agent.yml") {
				t.Errorf("vigil-server holds agent.yml:\n%s", list)
			}
			lacks(t, "dpkg-deb --contents", string(list), wants)
			// The packaged binary is the kind's build: agent-only in vigil-agent.
			root := t.TempDir()
			if out, err := exec.Command(dpkgDeb, "-x", p, root).CombinedOutput(); err != nil {
				t.Fatalf("dpkg-deb -x: %v\n%s", err, out)
			}
			bi, err := buildinfo.ReadFile(filepath.Join(root, "usr", "bin", "vigil"))
			if err != nil {
				t.Fatal(err)
			}
			tags := ""
			for _, s := range bi.Settings {
				if s.Key == "-tags" {
					tags = s.Value
				}
			}
			if tags != kind.Tags() {
				t.Errorf("%s carries a build with tags %q, want %q", kind, tags, kind.Tags())
			}
		})
	}
}

func TestAPK(t *testing.T) {
	for _, kind := range []Kind{Agent, Server} {
		t.Run(kind.Name(), func(t *testing.T) {
			p, err := Linux("apk", linuxBuild(t, kind))
			if err != nil {
				t.Fatal(err)
			}
			names := apkEntries(t, p)
			lacks(t, ".PKGINFO", names[".PKGINFO"], []string{"pkgname = " + kind.Name(), "pkgver = 1.2.3", "arch = x86_64", "depend = !" + other(kind).Name()})
			for _, want := range []string{".post-install", ".pre-deinstall", ".post-upgrade", "usr/bin/vigil"} {
				if _, ok := names[want]; !ok {
					t.Errorf("no %s in %v", want, keys(names))
				}
			}
			if _, ok := names["usr/share/vigil/agent.yml"]; ok != (kind == Agent) {
				t.Errorf("%s: agent.yml in it: %v", kind, ok)
			}
		})
	}
}

// apkEntries reads an apk (gzip streams of tar: signature, control, data) as one stream and
// returns its entries' names with their first 4 KiB.
func apkEntries(t *testing.T, p string) map[string]string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			// Each stream ends with the tar trailer: go on with the next one.
			if err == tar.ErrHeader {
				break
			}
			t.Fatal(err)
		}
		b, _ := io.ReadAll(io.LimitReader(tr, 4096))
		names[h.Name] = string(b)
	}
	return names
}

// lacks reports each of wants that text (what says it) does not hold.
func lacks(t *testing.T, what, text string, wants []string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(text, want) {
			t.Errorf("%s lacks %q:\n%s", what, want, text)
		}
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// throwawayCert writes a self-signed code-signing certificate and its key.
func throwawayCert(t *testing.T, dir string) (cert, key string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Vigil test code signing"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// TestWindowsZipSigned builds a small Windows program, packs it signed with a throwaway
// certificate, and checks the zip's vigil.exe with osslsigncode verify.
func TestWindowsZipSigned(t *testing.T) {
	tool := need(t, "osslsigncode", "osslsigncode")
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte("package main\n\nfunc main() { println(\"vigil\") }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "vigil.exe")
	build := exec.Command("go", "build", "-o", exe, "main.go")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0", "GO111MODULE=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build windows program: %v\n%s", err, out)
	}
	cert, key := throwawayCert(t, dir)
	signedExe := filepath.Join(dir, "signed", "vigil.exe")
	if err := os.Mkdir(filepath.Dir(signedExe), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := (&Signer{Cert: cert, Key: key}).Sign(exe, signedExe); err != nil {
		t.Fatal(err)
	}
	b := Build{Version: "1.2.3", OS: "windows", Arch: "amd64", Binary: signedExe, OutDir: t.TempDir()}
	p, err := WindowsZip(b)
	if err != nil {
		t.Fatal(err)
	}
	z, err := zip.OpenReader(p)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	var names []string
	signed := filepath.Join(dir, "from-zip.exe")
	for _, f := range z.File {
		names = append(names, f.Name)
		if f.Name == "vigil.exe" {
			r, _ := f.Open()
			data, _ := io.ReadAll(r)
			r.Close()
			if err := os.WriteFile(signed, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !slices.Equal(names, []string{"vigil.exe", "agent.yml", "README.txt"}) {
		t.Errorf("zip holds %v", names)
	}
	out, err := exec.Command(tool, "verify", "-CAfile", cert, "-in", signed).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Signature verification: ok") {
		t.Fatalf("osslsigncode verify: %v\n%s", err, out)
	}
	// The unsigned original does not verify: the check can fail.
	if out, err := exec.Command(tool, "verify", "-CAfile", cert, "-in", exe).CombinedOutput(); err == nil {
		t.Fatalf("unsigned exe verified:\n%s", out)
	}
	// Signed by another certificate, it does not verify against this one.
	otherCert, otherKey := throwawayCert(t, t.TempDir())
	otherExe := filepath.Join(dir, "other.exe")
	if err := (&Signer{Cert: otherCert, Key: otherKey}).Sign(exe, otherExe); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(tool, "verify", "-CAfile", cert, "-in", otherExe).CombinedOutput(); err == nil {
		t.Fatalf("exe signed by another certificate verified:\n%s", out)
	}
}

func TestTarballAndChecksums(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "vigil")
	if err := os.WriteFile(bin, []byte("binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	var made []string
	for kind, want := range map[Kind][]string{
		Agent:  {"vigil-agent_1.2.3_darwin_arm64/vigil", "vigil-agent_1.2.3_darwin_arm64/agent.yml", "vigil-agent_1.2.3_darwin_arm64/README.txt"},
		Server: {"vigil-server_1.2.3_darwin_arm64/vigil", "vigil-server_1.2.3_darwin_arm64/README.txt"},
	} {
		b := Build{Kind: kind, Version: "1.2.3", OS: "darwin", Arch: "arm64", Binary: bin, OutDir: dir, MTime: time.Unix(1700000000, 0)}
		p, err := Tarball(b)
		if err != nil {
			t.Fatal(err)
		}
		made = append(made, p)
		out, err := exec.Command("tar", "-tvzf", p).CombinedOutput()
		if err != nil {
			t.Fatalf("tar: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "-rwxr-xr-x root/wheel") {
			t.Errorf("tarball's vigil is not root's executable:\n%s", out)
		}
		names, err := exec.Command("tar", "-tzf", p).Output()
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Fields(string(names)); !slices.Equal(got, want) {
			t.Errorf("%s tarball holds %q, want %q", kind, got, want)
		}
		readme, err := exec.Command("tar", "-xOzf", p, want[len(want)-1]).Output()
		if err != nil {
			t.Fatal(err)
		}
		noun := map[Kind]string{Agent: "agent", Server: "server"}[kind]
		if !strings.Contains(string(readme), "sudo ./vigil "+noun+" install") {
			t.Errorf("%s README:\n%s", kind, readme)
		}
	}
	sums := filepath.Join(dir, "vigil_1.2.3_checksums.txt")
	if err := Checksums(sums, append(made, bin)); err != nil {
		t.Fatal(err)
	}
	check := exec.Command("sha256sum", "-c", filepath.Base(sums))
	check.Dir = dir
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("sha256sum -c: %v\n%s", err, out)
	}
	if err := os.WriteFile(bin, []byte("changed"), 0o755); err != nil {
		t.Fatal(err)
	}
	recheck := exec.Command("sha256sum", "-c", filepath.Base(sums))
	recheck.Dir = dir
	if out, err := recheck.Output(); err == nil {
		t.Fatalf("sha256sum -c passed on a changed file:\n%s", out)
	}
}

func TestDefaultConfig(t *testing.T) {
	for _, goos := range []string{"linux", "darwin", "windows"} {
		c := DefaultConfig(goos)
		if strings.Contains(c, "@") || !strings.Contains(c, "\nstate: ") {
			t.Errorf("%s:\n%s", goos, c)
		}
	}
}
