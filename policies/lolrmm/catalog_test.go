package lolrmm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseToolShapes(t *testing.T) {
	src := `Name: Demo RMM
Category: RMM
Author: A. Author
Created: '2024-01-02'
LastModified: 2024-03-04
Details:
    PEMetadata:
        Filename: demo.exe
        OriginalFileName: Demo.exe
        Product: Demo
    SupportedOS: [Windows, Mac]
    InstallationPaths:
        - C:\Program Files\Demo\*
        - {not: a string}
InstallationPaths:
    - /Applications/Demo.app
Artifacts:
    InstallationPaths: demoagent.exe
    Network:
        - Description: relays
          Domains: ['*.demo-rmm.net', relay.demo-rmm.net]
          Ports: [443, '7443', 1000-2000]
        - just a string
    Unknown: 1
References:
    - https://demo-rmm.example/docs
`
	tool, skips, err := ParseTool("demo.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if tool.Name != "Demo RMM" || tool.Created != "2024-01-02" || tool.Modified != "2024-03-04" || len(tool.Authors) != 1 {
		t.Errorf("meta: %+v", tool)
	}
	if len(tool.PE) != 1 || tool.PE[0].OriginalFileName != "Demo.exe" {
		t.Errorf("PEMetadata as a mapping: %+v", tool.PE)
	}
	var paths []string
	for _, p := range tool.Paths {
		paths = append(paths, p.Text)
	}
	if strings.Join(paths, "|") != `C:\Program Files\Demo\*|/Applications/Demo.app|demoagent.exe` {
		t.Errorf("paths from three places: %q", paths)
	}
	if len(tool.Network) != 1 || len(tool.Network[0].Ports) != 3 || tool.Network[0].Ports[1].Text != "7443" {
		t.Errorf("network: %+v", tool.Network)
	}
	if len(skips) != 2 {
		t.Errorf("want 2 skips (a mapping among paths, a string among network entries), got %v", skips)
	}
	for _, s := range skips {
		if s.File != "demo.yaml" || s.Line == 0 {
			t.Errorf("skip without position: %+v", s)
		}
	}
}

func TestParseToolErrors(t *testing.T) {
	for src, want := range map[string]string{
		"":                         "empty",
		"- a\n- b\n":               "demo.yaml:1: top level is not a mapping",
		"Category: RMM\n":          "demo.yaml:1: no Name",
		"Name: [a, b]\n":           "no Name",
		"Name: x\nDetails: [a\n":   "demo.yaml",
		"Name: &a x\nB: *b\n":      "unknown anchor",
		"Name: x\n\tbad: indent\n": "demo.yaml",
	} {
		_, _, err := ParseTool("demo.yaml", []byte(src))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", src, err, want)
		}
	}
	big := make([]byte, MaxFileSize+1)
	if _, _, err := ParseTool("big.yaml", big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("huge file: %v", err)
	}
}

func TestLoadDirMergesSameName(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "isl_online.yaml"), []byte("Name: ISL Online\nAuthor: one\nCreated: '2024-05-01'\nDetails:\n  InstallationPaths: ['*\\ISLLight.exe']\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "islonline.yaml"), []byte("Name: ISL Online\nAuthor: two\nCreated: '2023-01-01'\nDetails:\n  InstallationPaths: ['islalwaysonmonitor.exe']\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "README.md"), []byte("not a catalog file"), 0o644)
	cat, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if cat.Files != 2 || len(cat.Tools) != 1 {
		t.Fatalf("files %d tools %d", cat.Files, len(cat.Tools))
	}
	tool := cat.Tools[0]
	if len(tool.Paths) != 2 || strings.Join(tool.Authors, ";") != "one;two" || tool.Created != "2023-01-01" || len(tool.Files) != 2 {
		t.Errorf("merged: %+v", tool)
	}
	res, err := Convert(cat)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) != 1 || res.Files[0].Name != "isl_online.yml" || !strings.Contains(string(res.Files[0].Data), "yaml/islonline.yaml") {
		t.Errorf("one file per tool with both sources referenced: %+v", res.Files)
	}

	if _, err := LoadDir(t.TempDir()); err == nil {
		t.Error("an empty folder is not a catalog")
	}
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "x.yaml"), []byte("Name: [\n"), 0o644)
	if _, err := LoadDir(bad); err == nil || !strings.Contains(err.Error(), "x.yaml") {
		t.Errorf("broken file: %v", err)
	}
}
