package exeinfo

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// buildGo builds a small Go program in module mod and returns the binary's path.
func buildGo(t *testing.T, mod string) string {
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
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

func TestReadGoRenamedCopyAndHardLink(t *testing.T) {
	bin := buildGo(t, "github.com/jpillora/chisel")
	c := NewCache(0)
	info, ok := c.GoPath(bin)
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
	if got, ok := c.GoPath(hidden); !ok || got != info {
		t.Errorf("renamed copy: %+v, %v; want %+v", got, ok, info)
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
	if got, ok := c.GoPath(link); !ok || got != info {
		t.Errorf("hard link: %+v, %v; want %+v", got, ok, info)
	}
	if c.Reads() != reads {
		t.Errorf("hard link read the file again (%d reads, want %d)", c.Reads(), reads)
	}
	// Another version of the file at the same path is read again.
	if err := os.WriteFile(link, []byte("#!/bin/sh\necho not go\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, ok := c.GoPath(link); ok {
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
	info, ok := NewCache(0).GoPath(p)
	if !ok || info.Package != "github.com/rclone/rclone" {
		t.Fatalf("%s: %+v, %v; want package github.com/rclone/rclone", p, info, ok)
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
		if info, ok := NewCache(0).GoPath(sh); ok {
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
