package packaging

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
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
		"v1.2.3-4-gabc1234":       "1.2.3-dev.4+gabc1234",
		"v1.2.3-4-gabc1234-dirty": "1.2.3-dev.4+gabc1234.dirty",
		"1a2b3c4":                 "0.0.0-dev+g1a2b3c4",
		"1a2b3c4-dirty":           "0.0.0-dev+g1a2b3c4.dirty",
	} {
		if got := Version(in); got != want {
			t.Errorf("Version(%q) = %q, want %q", in, got, want)
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
	vigilOnce sync.Once
	vigilBin  string
	vigilErr  error
	vigilDir  string
)

// linuxBinary builds vigil for linux/amd64 once for the package tests.
func linuxBinary(t *testing.T) string {
	t.Helper()
	vigilOnce.Do(func() {
		vigilDir, vigilErr = os.MkdirTemp("", "vigil-packaging-test-")
		if vigilErr != nil {
			return
		}
		vigilBin = filepath.Join(vigilDir, "vigil")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-X github.com/vigilhq/vigil/internal/version.Version=1.2.3", "-o", vigilBin, "./cmd/vigil")
		cmd.Dir = repoRoot(t)
		cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=amd64", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			vigilErr = err
			t.Logf("%s", out)
		}
	})
	if vigilErr != nil {
		t.Fatalf("build vigil: %v", vigilErr)
	}
	return vigilBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if vigilDir != "" {
		os.RemoveAll(vigilDir)
	}
	os.Exit(code)
}

func linuxBuild(t *testing.T) Build {
	return Build{Version: "1.2.3", OS: "linux", Arch: "amd64", Binary: linuxBinary(t), OutDir: t.TempDir(), MTime: time.Unix(1700000000, 0)}
}

func TestRPM(t *testing.T) {
	rpm := need(t, "rpm", "rpm")
	p, err := Linux("rpm", linuxBuild(t))
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(p) != "vigil_1.2.3_linux_amd64.rpm" {
		t.Errorf("name %s", filepath.Base(p))
	}
	info, err := exec.Command(rpm, "-qpi", p).CombinedOutput()
	if err != nil {
		t.Fatalf("rpm -qpi: %v\n%s", err, info)
	}
	for _, want := range []string{"Name        : vigil", "Version     : 1.2.3", "Architecture: x86_64", "License     : Apache-2.0"} {
		if !strings.Contains(string(info), want) {
			t.Errorf("rpm -qpi lacks %q:\n%s", want, info)
		}
	}
	list, err := exec.Command(rpm, "-qpl", p).CombinedOutput()
	if err != nil {
		t.Fatalf("rpm -qpl: %v\n%s", err, list)
	}
	if got := strings.Fields(string(list)); !slices.Equal(got, []string{"/usr/bin/vigil", "/usr/share/vigil/agent.yml"}) {
		t.Errorf("rpm -qpl: %q", got)
	}
	scripts, err := exec.Command(rpm, "-qp", "--scripts", p).CombinedOutput()
	if err != nil {
		t.Fatalf("rpm --scripts: %v\n%s", err, scripts)
	}
	for _, want := range []string{"postinstall scriptlet", "vigil agent install", "preuninstall scriptlet", "vigil agent uninstall"} {
		if !strings.Contains(string(scripts), want) {
			t.Errorf("rpm scripts lack %q:\n%s", want, scripts)
		}
	}
}

func TestDeb(t *testing.T) {
	dpkgDeb := need(t, "dpkg-deb", "dpkg")
	p, err := Linux("deb", linuxBuild(t))
	if err != nil {
		t.Fatal(err)
	}
	info, err := exec.Command(dpkgDeb, "--info", p).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-deb --info: %v\n%s", err, info)
	}
	for _, want := range []string{"Package: vigil", "Version: 1.2.3", "Architecture: amd64", "postinst", "prerm", "postrm"} {
		if !strings.Contains(string(info), want) {
			t.Errorf("dpkg-deb --info lacks %q:\n%s", want, info)
		}
	}
	list, err := exec.Command(dpkgDeb, "--contents", p).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-deb --contents: %v\n%s", err, list)
	}
	for _, want := range []string{"-rwxr-xr-x root/root", "./usr/bin/vigil", "./usr/share/vigil/agent.yml"} {
		if !strings.Contains(string(list), want) {
			t.Errorf("contents lack %q:\n%s", want, list)
		}
	}
}

func TestAPK(t *testing.T) {
	p, err := Linux("apk", linuxBuild(t))
	if err != nil {
		t.Fatal(err)
	}
	// An apk is gzip streams of tar (control, then data), read here as one.
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
	if !strings.Contains(names[".PKGINFO"], "pkgname = vigil") || !strings.Contains(names[".PKGINFO"], "arch = x86_64") {
		t.Errorf(".PKGINFO: %q (entries %v)", names[".PKGINFO"], keys(names))
	}
	for _, want := range []string{".post-install", ".pre-deinstall", ".post-upgrade"} {
		if _, ok := names[want]; !ok {
			t.Errorf("no %s in %v", want, keys(names))
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
	b := Build{Version: "1.2.3", OS: "windows", Arch: "amd64", Binary: exe, OutDir: t.TempDir()}
	p, err := WindowsZip(b, &Signer{Cert: cert, Key: key})
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
	other := filepath.Join(dir, "other.exe")
	if err := (&Signer{Cert: otherCert, Key: otherKey}).Sign(exe, other); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(tool, "verify", "-CAfile", cert, "-in", other).CombinedOutput(); err == nil {
		t.Fatalf("exe signed by another certificate verified:\n%s", out)
	}
}

func TestTarballAndChecksums(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "vigil")
	if err := os.WriteFile(bin, []byte("binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	b := Build{Version: "1.2.3", OS: "darwin", Arch: "arm64", Binary: bin, OutDir: dir, MTime: time.Unix(1700000000, 0)}
	p, err := Tarball(b)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("tar", "-tvzf", p).CombinedOutput()
	if err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	for _, want := range []string{"-rwxr-xr-x root/wheel", "vigil_1.2.3_darwin_arm64/vigil", "vigil_1.2.3_darwin_arm64/agent.yml", "vigil_1.2.3_darwin_arm64/README.txt"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("tarball lacks %q:\n%s", want, out)
		}
	}
	sums := filepath.Join(dir, "vigil_1.2.3_checksums.txt")
	if err := Checksums(sums, []string{p, bin}); err != nil {
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
