package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vigilhq/vigil/installer/packaging"
)

func TestPlan(t *testing.T) {
	got, err := plan("linux/amd64,windows/amd64,darwin/arm64,linux/arm64", "linux/amd64, linux/arm64")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tg := range got {
		var kinds []string
		for _, k := range tg.kinds {
			kinds = append(kinds, k.Name())
		}
		names = append(names, tg.goos+"/"+tg.goarch+"="+strings.Join(kinds, "+"))
	}
	// The Linux targets, with both kinds, first; each target's agent before its server.
	want := []string{"linux/amd64=vigil-agent+vigil-server", "linux/arm64=vigil-agent+vigil-server", "windows/amd64=vigil-agent", "darwin/arm64=vigil-agent"}
	if !slices.Equal(names, want) {
		t.Errorf("plan: %v, want %v", names, want)
	}
	if got, err := plan("", "darwin/arm64"); err != nil || len(got) != 1 || !slices.Equal(got[0].kinds, []packaging.Kind{packaging.Server}) {
		t.Errorf("server only: %+v %v", got, err)
	}
	for _, bad := range [][2]string{{"linux", ""}, {"plan9/amd64", ""}, {"", "linux-amd64"}} {
		if _, err := plan(bad[0], bad[1]); err == nil {
			t.Errorf("plan(%q, %q) accepted", bad[0], bad[1])
		}
	}
}

func TestClean(t *testing.T) {
	out := t.TempDir()
	old := []string{"vigil-agent_1.0.0_linux_amd64.deb", "vigil-server_1.0.0_linux_amd64.rpm", "vigil_1.0.0_checksums.txt", "vigil_0.9.0_linux_amd64.deb", "bin/vigil-agent/linux_amd64/vigil"}
	for _, name := range append(old, "notes.txt") {
		p := filepath.Join(out, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := clean(out); err != nil {
		t.Fatal(err)
	}
	left, _ := filepath.Glob(filepath.Join(out, "*"))
	if len(left) != 1 || filepath.Base(left[0]) != "notes.txt" {
		t.Errorf("clean left %v, want notes.txt alone", left)
	}
}
