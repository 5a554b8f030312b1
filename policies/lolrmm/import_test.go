package lolrmm

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/internal/shareddata"
	"github.com/vigilhq/vigil/policies"
)

// importCatalog converts the shared LOLRMM catalog and writes it to a temporary folder.
func importCatalog(t *testing.T) (*Result, string) {
	t.Helper()
	cat, err := LoadDir(shareddata.Dir(t, "lolrmm", "yaml"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Convert(cat)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := res.Write(dir); err != nil {
		t.Fatal(err)
	}
	return res, dir
}

// TestImportCatalogLoads runs the importer on the real catalog and loads every produced file
// through the engine: no file may have an error or a warning.
func TestImportCatalogLoads(t *testing.T) {
	res, dir := importCatalog(t)
	if res.Catalog < 300 || res.Tools < 300 || len(res.Rules) < 400 {
		t.Fatalf("catalog %d files, %d tools, %d rules: far fewer than the catalog holds", res.Catalog, res.Tools, len(res.Rules))
	}
	rs, problems, err := policies.LoadPaths([]string{dir}, policies.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s", p.Error())
	}
	if rs.Len() != len(res.Rules) {
		t.Errorf("engine loaded %d rules, importer reported %d", rs.Len(), len(res.Rules))
	}
	ids := map[string]bool{}
	for _, ri := range rs.Rules() {
		if ids[ri.ID] {
			t.Errorf("duplicate id %s", ri.ID)
		}
		ids[ri.ID] = true
		if !strings.HasPrefix(ri.Author, "LOLRMM project (") {
			t.Errorf("%s: author %q lacks LOLRMM attribution", ri.Name, ri.Author)
		}
		if len(ri.References) == 0 || !strings.HasPrefix(ri.References[0], "https://lolrmm.io/tools/") {
			t.Errorf("%s: references %v", ri.Name, ri.References)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.yml"))
	if len(files) != len(res.Files) {
		t.Errorf("%d files on disk, %d in the result", len(files), len(res.Files))
	}
	for _, f := range files {
		data, _ := os.ReadFile(f)
		if !bytes.Contains(data, []byte("\nlicense: Apache-2.0\n")) {
			t.Errorf("%s: no license", f)
		}
	}
}

// badValue finds what LOLRMM's own generated rules get wrong, in the generated detection
// values: environment variables, regex syntax (character classes, {n} quantifiers), ports in host
// names, placeholders, a backslash that escapes a wildcard (`\*`) where a folder separator was
// meant. Braces alone are fine: Windows folders are often named after GUIDs.
var badValue = regexp.MustCompile(`%[A-Za-z]+%|[\[\]<>]|\{\d+(,\d*)?\}|:\d+'|user_managed|[^\\]\\\*|'\\\*|\\\\\\\\`)

func TestImportHasNoCatalogMistakes(t *testing.T) {
	// The check itself must catch what LOLRMM's generated rules contain.
	for _, bad := range []string{`            - '\\C:\*\kitty.exe'`, `            - '\\%APPDATA%\GoToMeeting\G2M.exe'`,
		`            - 'relay-[a-f0-9]{8}.net.anydesk.com:443'`, `            - 'user_managed'`, `            - '\*\Tools\x.exe'`} {
		if !badValue.MatchString(bad) {
			t.Fatalf("badValue misses %s", bad)
		}
	}
	res, _ := importCatalog(t)
	for _, f := range res.Files {
		inDetection := false
		for i, line := range strings.Split(string(f.Data), "\n") {
			switch {
			case line == "detection:":
				inDetection = true
			case strings.HasPrefix(line, "falsepositives:"):
				inDetection = false
			}
			if inDetection && badValue.MatchString(line) {
				t.Errorf("%s:%d: %s", f.Name, i+1, line)
			}
		}
	}
	// Generic names never stand alone: no selection value is a bare generic name.
	for _, f := range res.Files {
		for _, bad := range []string{`- '\setup.exe'`, `- '\agent.exe'`, `- '\client.exe'`, `- '\update.exe'`, `- '\dwm.exe'`, `- 'Setup.exe'`} {
			if bytes.Contains(bytes.ToLower(f.Data), bytes.ToLower([]byte(bad))) {
				t.Errorf("%s: generic value %s", f.Name, bad)
			}
		}
	}
}

func TestImportDeterministic(t *testing.T) {
	cat, err := LoadDir(shareddata.Dir(t, "lolrmm", "yaml"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := Convert(cat)
	if err != nil {
		t.Fatal(err)
	}
	cat2, _ := LoadDir(shareddata.Dir(t, "lolrmm", "yaml"))
	b, _ := Convert(cat2)
	if len(a.Files) != len(b.Files) {
		t.Fatalf("%d vs %d files", len(a.Files), len(b.Files))
	}
	for i := range a.Files {
		if a.Files[i].Name != b.Files[i].Name || !bytes.Equal(a.Files[i].Data, b.Files[i].Data) {
			t.Fatalf("%s differs between two imports", a.Files[i].Name)
		}
	}
	for _, r := range a.Rules {
		if r.ID != RuleID(r.Tool, r.Product, r.Kind) {
			t.Errorf("%s: id %s is not RuleID(tool, product, kind)", r.Name, r.ID)
		}
	}
}

// engineFor loads the generated rules and returns a matcher: the names of the rules that fire.
func engineFor(t *testing.T, dir string) func(category, product string, fields map[string]any) []string {
	t.Helper()
	rs, problems, err := policies.LoadPaths([]string{dir}, policies.LoadOptions{})
	if err != nil || len(problems) > 0 {
		t.Fatalf("load: %v %v", err, problems)
	}
	n := 0
	return func(category, product string, fields map[string]any) []string {
		eng, err := policies.NewEngine(rs, policies.EngineOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n++
		ev := &event.Event{ID: "e" + string(rune('a'+n%26)), Time: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC), Host: "laptop-42",
			Category: category, Product: product, Fields: fields}
		var names []string
		eng.Process(ev, func(f *policies.Finding) { names = append(names, f.RuleName) })
		eng.Flush(func(f *policies.Finding) { names = append(names, f.RuleName) })
		sort.Strings(names)
		return names
	}
}

func TestImportedRulesMatch(t *testing.T) {
	_, dir := importCatalog(t)
	fire := engineFor(t, dir)
	proc := func(product string, f map[string]any) []string { return fire("process_creation", product, f) }
	netc := func(f map[string]any) []string { return fire("network_connection", "windows", f) }
	cases := []struct {
		name string
		got  []string
		want []string
	}{
		{"AnyDesk from Program Files", proc("windows", map[string]any{"Image": `C:\Program Files (x86)\AnyDesk\AnyDesk.exe`}),
			[]string{"lolrmm_anydesk_windows_process"}},
		{"AnyDesk renamed, caught by OriginalFileName", proc("windows", map[string]any{"Image": `C:\Users\bob\Downloads\helper.exe`, "OriginalFileName": "AnyDesk.exe"}),
			[]string{"lolrmm_anydesk_windows_process"}},
		{"AnyDesk on macOS", proc("macos", map[string]any{"Image": "/Applications/AnyDesk.app/Contents/MacOS/AnyDesk"}),
			[]string{"lolrmm_anydesk_macos_process"}},
		{"a notes folder named after AnyDesk", proc("windows", map[string]any{"Image": `C:\Users\bob\anydesk-notes\notepad++.exe`}), nil},
		{"AnyDesk relay host (regex in the catalog)", netc(map[string]any{"Image": `C:\Program Files (x86)\AnyDesk\AnyDesk.exe`,
			"DestinationHostname": "relay-0a1b2c3d.net.anydesk.com", "DestinationPort": 443}),
			[]string{"lolrmm_anydesk_network"}},
		{"a browser on anydesk.com", netc(map[string]any{"Image": `C:\Program Files\Google\Chrome\Application\chrome.exe`,
			"DestinationHostname": "www.anydesk.com", "DestinationPort": 443}), nil},
		{"TeamViewer service", proc("windows", map[string]any{"Image": `C:\Program Files\TeamViewer\TeamViewer_Service.exe`}),
			[]string{"lolrmm_teamviewer_windows_process"}},
		{"TeamViewer router", netc(map[string]any{"Image": `C:\Program Files\TeamViewer\TeamViewer.exe`, "DestinationHostname": "router15.teamviewer.com"}),
			[]string{"lolrmm_teamviewer_network"}},
		{"ScreenConnect client service (random folder suffix)", proc("windows", map[string]any{
			"Image": `C:\Program Files (x86)\ScreenConnect Client (8d3b1f0e7c2a9b44)\ScreenConnect.ClientService.exe`}),
			[]string{"lolrmm_connectwise_windows_process", "lolrmm_screenconnect_windows_process"}},
		{"Chrome Remote Desktop host", proc("windows", map[string]any{
			"Image": `C:\Program Files (x86)\Google\Chrome Remote Desktop\130.0.6723.13\remoting_host.exe`}),
			[]string{"lolrmm_chrome_remote_desktop_windows_process"}},
		{"Chrome itself", proc("windows", map[string]any{"Image": `C:\Program Files\Google\Chrome\Application\chrome.exe`}), nil},
		{"KiTTY (LOLRMM's rule had C:\\*\\kitty.exe with a literal star)", proc("windows", map[string]any{"Image": `C:\Tools\kitty\kitty.exe`}),
			[]string{"lolrmm_kitty_windows_process"}},
		{"GoToMeeting under %APPDATA%", proc("windows", map[string]any{"Image": `C:\Users\bob\AppData\Roaming\GoToMeeting\G2M.exe`}),
			[]string{"lolrmm_gotomypc_windows_process"}},
		{"RustDesk per-user install", proc("windows", map[string]any{"Image": `C:\Users\bob\AppData\Local\rustdesk\rustdesk.exe`}),
			[]string{"lolrmm_rustdesk_windows_process"}},
		{"RustDesk rendezvous port", netc(map[string]any{"Image": `C:\Tools\rd.exe`, "Initiated": true, "DestinationIp": "203.0.113.7", "DestinationPort": 21116}),
			[]string{"lolrmm_rustdesk_network"}},
		// A port alone does not fire on loopback, without a process, nor for a listener or an
		// inbound connection on that port.
		{"RustDesk port on loopback", netc(map[string]any{"Image": `C:\Tools\py.exe`, "Initiated": true, "DestinationIp": "127.0.0.1", "DestinationPort": 21116}), nil},
		{"RustDesk port on IPv6 loopback", netc(map[string]any{"Image": `C:\Tools\py.exe`, "Initiated": true, "DestinationIp": "::1", "DestinationPort": 21116}), nil},
		{"RustDesk port, socket without a process", netc(map[string]any{"Initiated": true, "DestinationIp": "203.0.113.7", "DestinationPort": 21116, "State": "TIME_WAIT"}), nil},
		{"a listener on the RustDesk port", netc(map[string]any{"Image": `C:\Tools\x.exe`, "Initiated": false, "DestinationIp": "0.0.0.0", "DestinationPort": 21116, "State": "LISTEN"}), nil},
		{"AnyDesk relay host, socket without a process", netc(map[string]any{"DestinationHostname": "relay-0a1b2c3d.net.anydesk.com", "DestinationPort": 443}),
			[]string{"lolrmm_anydesk_network"}},
		{"tmate on Linux", proc("linux", map[string]any{"Image": "/usr/bin/tmate"}), []string{"lolrmm_tmate_linux_process"}},
		{"Windows' own dwm.exe (Teramind's rename target)", proc("windows", map[string]any{"Image": `C:\Windows\System32\dwm.exe`, "OriginalFileName": "dwm.exe"}), nil},
		{"an installer named setup.exe", proc("windows", map[string]any{"Image": `C:\Users\bob\Downloads\setup.exe`, "OriginalFileName": "setup.exe"}), nil},
		{"baramundi agent, generic name qualified by product", proc("windows", map[string]any{"Image": `D:\bma\bma.exe`, "Product": "baramundi Management Suite"}),
			[]string{"lolrmm_baramundi_management_suite_windows_process"}},
		{"a bma.exe of another product", proc("windows", map[string]any{"Image": `D:\games\bma.exe`, "Product": "Big Monster Arena"}), nil},
		{"git to github.com is no tool's traffic", netc(map[string]any{"Image": `C:\Program Files\Git\mingw64\bin\git-remote-https.exe`, "DestinationHostname": "github.com"}), nil},
	}
	for _, c := range cases {
		if strings.Join(c.got, ",") != strings.Join(c.want, ",") {
			t.Errorf("%s: fired %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestWriteReplacesOnlyGeneratedFiles(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "gone_tool.yml")
	mine := filepath.Join(dir, "my_rule.yml")
	os.WriteFile(stale, []byte(GeneratedMarker+" from an older catalog\ntitle: x\n"), 0o644)
	os.WriteFile(mine, []byte("title: mine\n"), 0o644)
	r := &Result{Files: []OutputFile{{Name: "a.yml", Data: []byte(GeneratedMarker + "\ntitle: a\n")}}}
	if err := r.Write(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale generated file kept: %v", err)
	}
	if b, _ := os.ReadFile(mine); string(b) != "title: mine\n" {
		t.Errorf("a file the importer did not write was changed")
	}
	// A hand-written file with a generated file's name is not overwritten.
	r2 := &Result{Files: []OutputFile{{Name: "my_rule.yml", Data: []byte(GeneratedMarker + "\n")}}}
	if err := r2.Write(dir); err == nil || !strings.Contains(err.Error(), "not generated") {
		t.Errorf("overwrote a hand-written file: %v", err)
	}
	if err := r.Write(dir); err != nil { // unchanged content: a no-op
		t.Fatal(err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(left) != 2 {
		t.Errorf("files left: %v", left)
	}
}

func TestSummaryListsSkips(t *testing.T) {
	res, _ := importCatalog(t)
	var buf bytes.Buffer
	res.Summary(&buf, false)
	out := buf.String()
	for _, want := range []string{"LOLRMM import: ", "values skipped", `"user_managed": placeholder`, "generic name", "values rewritten"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	if n := strings.Count(out, "\n  skipped "); n != len(res.Skipped) {
		t.Errorf("summary lists %d skips, result has %d", n, len(res.Skipped))
	}
}

// BenchmarkImport measures reading and converting the whole catalog (no writing).
func BenchmarkImport(b *testing.B) {
	dir := shareddata.Dir(b, "lolrmm", "yaml")
	rules := 0
	for b.Loop() {
		cat, err := LoadDir(dir)
		if err != nil {
			b.Fatal(err)
		}
		res, err := Convert(cat)
		if err != nil {
			b.Fatal(err)
		}
		rules = len(res.Rules)
	}
	b.ReportMetric(float64(rules), "rules")
}

// TestImportedSelections pins the exact selections of well-known tools.
func TestImportedSelections(t *testing.T) {
	res, _ := importCatalog(t)
	detections := map[string]map[string]any{} // rule name -> detection
	for _, f := range res.Files {
		dec := yaml.NewDecoder(bytes.NewReader(f.Data))
		for {
			var doc struct {
				Name      string         `yaml:"name"`
				Detection map[string]any `yaml:"detection"`
			}
			if err := dec.Decode(&doc); err != nil {
				break
			}
			detections[doc.Name] = doc.Detection
		}
	}
	want := map[string]string{
		"lolrmm_anydesk_windows_process": `{"condition":"1 of selection_*","selection_folder":{"Image|contains":["\\Program Files (x86)\\AnyDesk\\","\\Program Files\\AnyDesk\\"]},` +
			`"selection_image":{"Image|endswith":["\\anydesk.exe"]},"selection_original_name":{"OriginalFileName":["AnyDesk.exe"]}}`,
		"lolrmm_anydesk_macos_process": `{"condition":"1 of selection_*","selection_folder":{"Image|startswith":["/Applications/AnyDesk.app/"]}}`,
		"lolrmm_teamviewer_windows_process": `{"condition":"1 of selection_*","selection_folder":{"Image|contains":["\\Program Files\\TeamViewer\\"]},` +
			`"selection_image":{"Image|endswith":["\\TeamViewer.exe","\\teamviewer_desktop.exe","\\teamviewer_service.exe"]}}`,
		"lolrmm_screenconnect_windows_process": `{"condition":"1 of selection_*","selection_folder":{"Image|contains":["\\Program Files (x86)\\ScreenConnect Client (*)\\","\\ScreenConnect Client*\\"]},` +
			`"selection_image":{"Image|endswith":["\\connectwise*.exe","\\ConnectWiseControl*.exe","\\Program Files (x86)\\ScreenConnect Client (*)\\ScreenConnect.ClientService.exe",` +
			`"\\Remote Workforce Client.exe","\\screenconnect*.exe","\\ScreenConnect.ClientService.exe","\\ScreenConnect.WindowsClient.exe"]}}`,
		"lolrmm_chrome_remote_desktop_windows_process": `{"condition":"1 of selection_*","selection_folder":{"Image|contains":["\\Google\\Chrome Remote Desktop\\",` +
			`"\\Program Files (x86)\\Google\\Chrome Remote Desktop\\"]},"selection_image":{"Image|endswith":["\\remote_host.exe","\\remoting_host.exe"]}}`,
	}
	for name, w := range want {
		got, err := json.Marshal(detections[name])
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != w {
			t.Errorf("%s:\n got  %s\n want %s", name, got, w)
		}
	}
	anyNet, _ := json.Marshal(detections["lolrmm_anydesk_network"]["selection_host"])
	if string(anyNet) != `{"DestinationHostname":["*.anydesk.com","boot.net.anydesk.com","relay-????????.net.anydesk.com"]}` {
		t.Errorf("AnyDesk hosts: %s", anyNet)
	}
}
