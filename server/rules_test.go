package server

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilhq/vigil/internal/shareddata"
	"github.com/vigilhq/vigil/internal/wire"
	"github.com/vigilhq/vigil/server/policy"
)

const customRule = `title: Custom VNC Viewer Start
id: 0d7a3c1e-3f55-4f0e-9a2e-5b1c7d2e9a01
name: custom_vnc_viewer
status: experimental
author: Test Author
logsource:
    category: process_creation
    product: linux
detection:
    selection:
        Image|endswith: /vncviewer
    condition: selection
level: high
`

type ruleChangedBody struct {
	Rule          struct{ ID, Name string }
	PolicyVersion int64 `json:"policy_version"`
}

// TestCustomRulesAndSignedBundles: rule files through the admin API, each change a new signed
// version that verifies with the key from enrollment; refused rules name file and line; the
// audit log records every change.
func TestCustomRulesAndSignedBundles(t *testing.T) {
	srv, c := testServer(t, nil)
	u := srv.LocalURL()
	agent := enrollAgent(t, srv, c, "m-1")
	key, err := wire.ParseKey(agent.PolicyKey)
	if err != nil {
		t.Fatal(err)
	}
	if r := do(t, c, "GET", u+wire.PathPolicy, agent.Token, nil); r.status != 404 {
		t.Fatalf("policy before any: %d", r.status)
	}
	r := do(t, c, "POST", u+"/api/v1/rules", adminToken, map[string]string{"name": "custom/vnc.yml", "content": customRule})
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var created ruleChangedBody
	r.decode(t, &created)
	if created.PolicyVersion != 1 || created.Rule.ID == "" {
		t.Fatalf("create: %s", r.body)
	}
	// The agent hears of version 1 at its next call, fetches it and verifies it.
	var cr wire.CheckinResponse
	do(t, c, "POST", u+wire.PathCheckin, agent.Token, wire.CheckinRequest{}).decode(t, &cr)
	if cr.PolicyVersion != 1 {
		t.Fatalf("check-in policy version: %d", cr.PolicyVersion)
	}
	var b wire.Bundle
	do(t, c, "GET", u+wire.PathPolicy, agent.Token, nil).decode(t, &b)
	if err := b.Verify(key); err != nil || b.Version != 1 || len(b.Rules) != 1 || b.Rules[0].Name != "custom/vnc.yml" {
		t.Fatalf("bundle: %v %+v", err, b)
	}
	// A rule that does not load: 400, the problem with its line, nothing published.
	bad := strings.Replace(customRule, "Image|endswith", "Image|frobnicate", 1)
	r = do(t, c, "PUT", u+"/api/v1/rules/"+created.Rule.ID, adminToken, map[string]string{"name": "custom/vnc.yml", "content": bad})
	var pb struct {
		Error    wire.Error
		Problems []struct {
			File string
			Line int
		}
	}
	r.decode(t, &pb)
	if r.status != 400 || pb.Error.Field != "content" || len(pb.Problems) == 0 || pb.Problems[0].File != "custom/vnc.yml" || pb.Problems[0].Line != 11 {
		t.Fatalf("bad rule: %d %s", r.status, r.body)
	}
	// Same name again: conflict. An id the built-in pack uses: refused.
	if r = do(t, c, "POST", u+"/api/v1/rules", adminToken, map[string]string{"name": "custom/vnc.yml", "content": customRule}); r.status != 409 {
		t.Fatalf("duplicate name: %d %s", r.status, r.body)
	}
	dupID := strings.Replace(customRule, "custom_vnc_viewer", "remote_access_x11vnc_process_linux", 1)
	dupID = strings.Replace(dupID, "0d7a3c1e-3f55-4f0e-9a2e-5b1c7d2e9a01", "0d7a3c1e-3f55-4f0e-9a2e-5b1c7d2e9a02", 1)
	if r = do(t, c, "POST", u+"/api/v1/rules", adminToken, map[string]string{"name": "other.yml", "content": dupID}); r.status != 400 {
		t.Fatalf("built-in name reused: %d %s", r.status, r.body)
	}
	// Size cap.
	huge := customRule + "# " + strings.Repeat("x", policy.MaxRuleFileBytes) + "\n"
	if r = do(t, c, "POST", u+"/api/v1/rules", adminToken, map[string]string{"name": "huge.yml", "content": huge}, "Content-Type", "application/json"); r.status != 413 {
		t.Fatalf("huge rule: %d", r.status)
	}
	// Lint without storing.
	var lint struct {
		OK       bool
		Problems []struct{ Line int }
	}
	do(t, c, "POST", u+"/api/v1/rules/lint", adminToken, map[string]string{"name": "x.yml", "content": bad}).decode(t, &lint)
	if lint.OK || len(lint.Problems) == 0 || lint.Problems[0].Line != 11 {
		t.Fatalf("lint: %+v", lint)
	}
	// Disable a built-in rule, delete the custom one: versions 2 and 3.
	if r = do(t, c, "POST", u+"/api/v1/rules/builtin/remote_access_x11vnc_process_linux/disable", adminToken, nil); r.status != 200 {
		t.Fatalf("disable: %d %s", r.status, r.body)
	}
	if r = do(t, c, "POST", u+"/api/v1/rules/builtin/no_such_rule/disable", adminToken, nil); r.status == 200 {
		t.Fatal("disabling an unknown rule succeeded")
	}
	if r = do(t, c, "DELETE", u+"/api/v1/rules/"+created.Rule.ID, adminToken, nil); r.status != 200 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	do(t, c, "GET", u+wire.PathPolicy, agent.Token, nil).decode(t, &b)
	if err := b.Verify(key); err != nil || b.Version != 3 || len(b.Rules) != 0 || len(b.Disabled) != 1 {
		t.Fatalf("bundle 3: %v %+v", err, b)
	}
	var versions struct{ Versions []struct{ Version int64 } }
	do(t, c, "GET", u+"/api/v1/policy/versions", adminToken, nil).decode(t, &versions)
	if len(versions.Versions) != 3 {
		t.Fatalf("versions: %+v", versions)
	}
	// The audit log has each change, by the admin.
	var audit struct {
		Entries []struct{ Actor, Action string }
	}
	do(t, c, "GET", u+"/api/v1/audit?actor=admin", adminToken, nil).decode(t, &audit)
	var actions []string
	for _, e := range audit.Entries {
		actions = append(actions, e.Action)
	}
	if got := strings.Join(actions, ","); got != "deleteRule,disableBuiltinRule,createRule" {
		t.Fatalf("audit actions: %s", got)
	}
}

// TestImportWithoutRuleFile: an import that holds no rule file (an empty list, an archive of
// test cases only) is a 400 naming files, not a 200 that publishes nothing.
func TestImportWithoutRuleFile(t *testing.T) {
	srv, c := testServer(t, nil)
	u := srv.LocalURL() + "/api/v1/rules/import"
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	content := "cases: []\n"
	_ = tw.WriteHeader(&tar.Header{Name: "rules/vnc.test.yml", Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg})
	_, _ = tw.Write([]byte(content))
	_ = tw.Close()
	_ = zw.Close()
	for name, r := range map[string]resp{
		"empty JSON list":            do(t, c, "POST", u, adminToken, map[string]any{"files": []any{}}),
		"archive of test cases only": do(t, c, "POST", u, adminToken, buf.Bytes(), "Content-Type", "application/gzip"),
	} {
		if r.status != 400 || r.errBody(t).Field != "files" {
			t.Errorf("%s: %d %s, want 400 naming files", name, r.status, r.body)
		}
	}
}

// TestImportSigmaHQFolder imports the SigmaHQ rules of the shared testdata as a .tar.gz: the
// files that load are published as one version, each refused file is reported with its reason.
func TestImportSigmaHQFolder(t *testing.T) {
	dir := shareddata.Dir(t, "sigmahq", "rules")
	srv, c := testServer(t, nil)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	files := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yml") {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(filepath.Dir(dir), p)
		files++
		if err := tw.WriteHeader(&tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// Two files that cannot load.
	for name, content := range map[string]string{"broken/bad.yml": "title: [unclosed\n", "broken/notarule.yml": "just: a mapping\n"} {
		_ = tw.WriteHeader(&tar.Header{Name: "rules/" + name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg})
		_, _ = tw.Write([]byte(content))
		files++
	}
	_ = tw.Close()
	_ = zw.Close()
	r := do(t, c, "POST", srv.LocalURL()+"/api/v1/rules/import", adminToken, buf.Bytes(), "Content-Type", "application/gzip")
	if r.status != 200 {
		t.Fatalf("import: %d %s", r.status, r.body)
	}
	var rep policy.ImportReport
	r.decode(t, &rep)
	t.Logf("import of %d files: %d accepted, %d refused, version %d", files, len(rep.Accepted), len(rep.Refused), rep.Version)
	if len(rep.Accepted)+len(rep.Refused) != files || len(rep.Accepted) < files/2 || rep.Version != 1 {
		t.Fatalf("report: %d accepted, %d refused of %d", len(rep.Accepted), len(rep.Refused), files)
	}
	refused := map[string]string{}
	for _, f := range rep.Refused {
		refused[f.Name] = f.Reason
		if f.Reason == "" {
			t.Errorf("%s refused without a reason", f.Name)
		}
	}
	if refused["broken/bad.yml"] == "" || refused["broken/notarule.yml"] == "" {
		t.Fatalf("broken files not reported: %v", refused)
	}
	if strings.HasPrefix(rep.Accepted[0], "rules/") {
		t.Fatalf("the shared top folder was not dropped: %s", rep.Accepted[0])
	}
	// The bundle carries them, signed.
	a := enrollAgent(t, srv, c, "m-1")
	var b wire.Bundle
	do(t, c, "GET", srv.LocalURL()+wire.PathPolicy, a.Token, nil).decode(t, &b)
	key, _ := wire.ParseKey(a.PolicyKey)
	if err := b.Verify(key); err != nil || len(b.Rules) != len(rep.Accepted) {
		t.Fatalf("bundle: %v, %d rules", err, len(b.Rules))
	}
}

// TestRuleRefusals: an empty rule file is a 400 naming the content, a built-in rule that
// does not exist a 404; a custom rule that would make findings without one of Sigma's five
// levels is refused (the ingest refuses such findings, so the agents would drop every one),
// naming the file and line; a rule that only feeds a correlation may leave its level out.
func TestRuleRefusals(t *testing.T) {
	srv, c := testServer(t, nil)
	u := srv.LocalURL()
	noLevel := strings.Replace(customRule, "level: high\n", "", 1)
	for name, content := range map[string]string{"none.yml": noLevel, "severe.yml": noLevel + "level: severe\n", "upper.yml": noLevel + "level: High\n"} {
		r := do(t, c, "POST", u+"/api/v1/rules", adminToken, map[string]string{"name": name, "content": content})
		if r.status != 400 || !strings.Contains(string(r.body), name+":1") || !strings.Contains(string(r.body), "informational, low, medium, high, critical") {
			t.Errorf("%s: %d %s, want 400 naming %s:1 and the levels", name, r.status, r.body, name)
		}
		r = do(t, c, "POST", u+"/api/v1/rules/lint", adminToken, map[string]string{"name": name, "content": content})
		if !strings.Contains(string(r.body), `"file":"`+name+`","line":1,"message":"rule \"Custom VNC Viewer Start\" has`) {
			t.Errorf("lint of %s: %d %s, want its level problem", name, r.status, r.body)
		}
	}
	if r := do(t, c, "POST", u+"/api/v1/rules", adminToken, map[string]string{"name": "empty.yml", "content": "\n"}); r.status != 400 || r.errBody(t).Field != "content" {
		t.Errorf("an empty rule file: %d %s, want 400 naming content", r.status, r.body)
	}
	if r := do(t, c, "POST", u+"/api/v1/rules/builtin/no-such-rule/disable", adminToken, nil); r.status != 404 {
		t.Errorf("disabling a built-in rule that does not exist: %d %s, want 404", r.status, r.body)
	}
	feeder := noLevel + `---
title: Many VNC Viewers
id: 6c1f4a8e-6a4b-4c55-9d0e-3f2a1b7c8d90
correlation:
    type: event_count
    rules: [custom_vnc_viewer]
    group-by: [host]
    timespan: 1h
    condition: {gte: 3}
    generate: false
level: medium
`
	if r := do(t, c, "POST", u+"/api/v1/rules", adminToken, map[string]string{"name": "feeder.yml", "content": feeder}); r.status != 201 {
		t.Errorf("a rule without a level that only feeds a correlation: %d %s", r.status, r.body)
	}
}
