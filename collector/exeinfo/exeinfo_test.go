package exeinfo

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// buildGo builds a small Go program in module mod (with env added to the build's environment,
// such as GOOS=darwin) and returns the binary's path.
func buildGo(t *testing.T, mod string, env ...string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("go toolchain not found: %v", err)
	}
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module "+mod+"\n\ngo 1.22\n")
	write("main.go", "package main\n\nfunc main() { println(\"hi\") }\n")
	out := filepath.Join(dir, "prog")
	cmd := exec.Command(goBin, "build", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "CGO_ENABLED=0", "GOTOOLCHAIN=local")
	cmd.Env = append(cmd.Env, env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

func TestReadGoRenamedCopyAndHardLink(t *testing.T) {
	bin := buildGo(t, "github.com/jpillora/chisel")
	c := NewCache(0)
	gi := c.Path(bin)
	info, ok := gi.Go, gi.Go.Package != ""
	if !ok || info.Package != "github.com/jpillora/chisel" || info.Module != "github.com/jpillora/chisel" || info.Version != "(devel)" {
		t.Fatalf("GoPath(%s) = %+v, %v", bin, info, ok)
	}
	// A renamed copy: a new file, read again, same identity.
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	hidden := filepath.Join(t.TempDir(), ".x", "update-helper")
	if err := os.MkdirAll(filepath.Dir(hidden), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hidden, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if got := c.Path(hidden).Go; got != info {
		t.Errorf("renamed copy: %+v; want %+v", got, info)
	}
	if runtime.GOOS == "windows" {
		return
	}
	// A hard link is the same file: answered from the cache.
	link := filepath.Join(filepath.Dir(bin), "sshd")
	if err := os.Link(bin, link); err != nil {
		t.Fatal(err)
	}
	reads := c.Reads()
	if got := c.Path(link).Go; got != info {
		t.Errorf("hard link: %+v; want %+v", got, info)
	}
	if c.Reads() != reads {
		t.Errorf("hard link read the file again (%d reads, want %d)", c.Reads(), reads)
	}
	// Another version of the file at the same path is read again.
	if err := os.WriteFile(link, []byte("#!/bin/sh\necho not go\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := c.Path(link).Go; got != (GoInfo{}) {
		t.Errorf("a shell script replacing the binary: %+v, want not Go", got)
	}
}

// TestReadGoDebianRclone reads Debian's rclone, built in GOPATH mode: the main package path is
// there, the module is not.
func TestReadGoDebianRclone(t *testing.T) {
	const p = "/usr/bin/rclone"
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s not installed (Debian package rclone): %v", p, err)
	}
	info := NewCache(0).Path(p).Go
	if info.Package != "github.com/rclone/rclone" {
		t.Fatalf("%s: %+v; want package github.com/rclone/rclone", p, info)
	}
	f := map[string]any{}
	info.Fields(f)
	if f["GoPackage"] != "github.com/rclone/rclone" {
		t.Errorf("fields %v", f)
	}
	if info.Module == "" && len(f) != 1 {
		t.Errorf("GOPATH build: fields %v, want GoPackage alone", f)
	}
}

func TestReadGoNotGo(t *testing.T) {
	for _, data := range [][]byte{nil, []byte("\x7fELF"), bytes.Repeat([]byte{0}, 4096), []byte("MZ\x90\x00garbage")} {
		if info, ok := ReadGo(bytes.NewReader(data)); ok {
			t.Errorf("ReadGo(%q...) = %+v, want not Go", data[:min(len(data), 8)], info)
		}
	}
	if sh, err := exec.LookPath("sh"); err == nil {
		if info := NewCache(0).Path(sh); info != (Info{}) {
			t.Errorf("%s read as Go: %+v", sh, info)
		}
	}
}

func TestCleanBoundsHostileStrings(t *testing.T) {
	if got := clean("a\x1b[31mred"); got != "" {
		t.Errorf("control characters kept: %q", got)
	}
	if got := clean(string(bytes.Repeat([]byte("a"), 1000))); len(got) != 256 {
		t.Errorf("len %d, want 256", len(got))
	}
}

func FuzzReadGo(f *testing.F) {
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Add([]byte("\xff Go buildinf:\x08\x02"))
	f.Fuzz(func(t *testing.T, data []byte) {
		info, ok := ReadGo(bytes.NewReader(data))
		if !ok && info != (GoInfo{}) {
			t.Fatalf("not ok but %+v", info)
		}
	})
}

// signedPE is a real EV-signed Windows executable (WireGuard LLC's signature): the test data of
// golang.org/x/sys/windows, which this module depends on, read from the module cache.
func signedPE(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "golang.org/x/sys").Output()
	if err != nil {
		t.Skipf("cannot locate golang.org/x/sys in the module cache: %v", err)
	}
	p := filepath.Join(strings.TrimSpace(string(out)), "windows", "testdata", "ev-signed-file.exe")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("signed PE test file not in the module cache: %v", err)
	}
	return p
}

func TestReadPESignerReal(t *testing.T) {
	p := signedPE(t)
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got, ok := ReadPESigner(f); !ok || got != "WireGuard LLC" {
		t.Errorf("ReadPESigner = %q, %v; want WireGuard LLC", got, ok)
	}
	// A renamed copy keeps its signer; the cache reports it with the Go identity (none here).
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	renamed := filepath.Join(t.TempDir(), "svchost.exe")
	if err := os.WriteFile(renamed, data, 0o644); err != nil {
		t.Fatal(err)
	}
	info := NewCache(0).Path(renamed)
	fields := map[string]any{}
	info.Fields(fields)
	if fields["Signature"] != "WireGuard LLC" || fields["GoPackage"] != nil {
		t.Errorf("fields %v", fields)
	}
	// The same file with its signature cut off has none.
	if got, ok := ReadPESigner(bytes.NewReader(data[:10752])); ok {
		t.Errorf("truncated: %q", got)
	}
}

func FuzzReadPESigner(f *testing.F) {
	f.Add([]byte("MZ\x90\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ReadPESigner(bytes.NewReader(data))
	})
}
