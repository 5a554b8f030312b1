package ui

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/internal/wire"
	"github.com/vigilhq/vigil/policies"
	"github.com/vigilhq/vigil/server/policy"
	"github.com/vigilhq/vigil/server/store"
)

const sampleEvents = `{"id":"s1","time":"2026-12-01T10:00:00Z","category":"process_creation","product":"linux","fields":{"Image":"/usr/bin/x11vnc","CommandLine":"x11vnc -display :0 -forever","User":"alice"}}`

func (u *UI) rules(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	ctx := r.Context()
	tab := r.URL.Query().Get("tab")
	if tab != "builtin" && tab != "versions" {
		tab = "custom"
	}
	v := rulesView{Base: c.base("rules", "Rules"), Tab: tab, Query: r.URL.Query().Get("q")}
	if cur, err := u.cfg.Policy.Current(ctx); err == nil && cur != nil {
		v.Policy = policyInfo{Version: cur.Version, Created: cur.CreatedAt, By: cur.CreatedBy}
	}
	inUse, err := u.st.PolicyVersionsInUse(ctx)
	if err != nil {
		return err
	}
	v.Policy.OnHosts = inUse[v.Policy.Version]
	if v.Policy.Hosts, err = u.st.CountHosts(ctx, store.HostFilter{}); err != nil {
		return err
	}
	builtin := u.cfg.Policy.Builtin()
	disabled, err := u.st.DisabledBuiltins(ctx)
	if err != nil {
		return err
	}
	for _, ri := range builtin {
		if !ri.Silent {
			v.BuiltinCount++
		}
	}
	switch tab {
	case "custom":
		files, err := u.st.ListRuleFiles(ctx)
		if err != nil {
			return err
		}
		for _, f := range files {
			cf := customFile{ID: f.ID, Name: f.Name, Updated: f.UpdatedAt, By: f.UpdatedBy}
			rs, _ := policies.ParseBytes(f.Name, []byte(f.Content), policies.LoadOptions{})
			if rs != nil {
				for _, ri := range rs.Rules() {
					cf.Rules = append(cf.Rules, ruleSummary{ID: ri.ID, Title: ri.Title, Level: ri.Level})
				}
			}
			v.Custom = append(v.Custom, cf)
		}
	case "builtin":
		q := strings.ToLower(v.Query)
		for _, ri := range builtin {
			if ri.Silent {
				continue
			}
			if q != "" && !strings.Contains(strings.ToLower(ri.ID+" "+ri.Title+" "+strings.Join(ri.Tags, " ")), q) {
				continue
			}
			v.Builtin = append(v.Builtin, builtinRow{ID: ri.ID, Title: ri.Title, Level: ri.Level, Author: ri.Author,
				Disabled: slices.Contains(disabled, ri.ID), Correlation: ri.Kind == "correlation"})
		}
		sort.SliceStable(v.Builtin, func(i, j int) bool { return v.Builtin[i].Title < v.Builtin[j].Title })
	case "versions":
		vs, _, err := u.st.ListPolicyVersions(ctx, store.Page{Limit: 50})
		if err != nil {
			return err
		}
		for _, pv := range vs {
			v.Versions = append(v.Versions, versionRow{Version: pv.Version, Created: pv.CreatedAt, By: pv.CreatedBy, Comment: pv.Comment, Hosts: inUse[pv.Version]})
		}
	}
	return u.r.render(w, http.StatusOK, "rules", v)
}

func (u *UI) ruleNew(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	v := ruleEditView{Base: c.base("rules", "New rule", Crumb{Name: "Rules", Href: "/rules"}, Crumb{Name: "New rule"}), Sample: sampleEvents,
		Content: "title: \nid: \nstatus: experimental\ndescription: \nauthor: " + c.user.Username + "\nlogsource:\n  category: process_creation\ndetection:\n  selection:\n    Image|endswith: ''\n  condition: selection\nlevel: medium\n"}
	return u.r.render(w, http.StatusOK, "rule_edit", v)
}

func (u *UI) ruleEdit(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	f, err := u.st.RuleFile(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	v := ruleEditView{Base: c.base("rules", f.Name, Crumb{Name: "Rules", Href: "/rules"}, Crumb{Name: f.Name}), ID: f.ID, Name: f.Name, Content: f.Content, Sample: sampleEvents}
	return u.r.render(w, http.StatusOK, "rule_edit", v)
}

func (u *UI) ruleBuiltin(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	src, ok := u.cfg.Policy.Source(r.Context(), r.PathValue("id"))
	if !ok || !src.Builtin {
		return fmt.Errorf("built-in rule %q: %w", r.PathValue("id"), store.ErrNotFound)
	}
	disabled, err := u.st.DisabledBuiltins(r.Context())
	if err != nil {
		return err
	}
	v := ruleEditView{Base: c.base("rules", src.Title, Crumb{Name: "Rules", Href: "/rules?tab=builtin"}, Crumb{Name: src.Title}),
		Builtin: true, Title: src.Title, RuleID: src.ID, Content: src.Text, Disabled: slices.Contains(disabled, src.ID), Sample: sampleEvents}
	return u.r.render(w, http.StatusOK, "rule_edit", v)
}

// ruleSave creates or replaces a custom rule file and rolls it out as a new signed policy
// version; a file that does not load is refused with its problems, nothing published.
func (u *UI) ruleSave(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	id := r.PathValue("id")
	rf := store.RuleFile{ID: id, Name: strings.TrimSpace(r.PostFormValue("name")), Content: r.PostFormValue("content")}
	comment := strings.TrimSpace(r.PostFormValue("comment"))
	if comment == "" {
		comment = "edited " + rf.Name + " in the web UI"
	}
	_, pv, err := u.cfg.Policy.Change(r.Context(), store.RuleChange{Put: []store.RuleFile{rf}, Actor: c.user.Username, Comment: comment})
	if err != nil {
		var pe *policy.ProblemsError
		if errors.As(err, &pe) {
			v := ruleEditView{Base: c.base("rules", "Rule refused", Crumb{Name: "Rules", Href: "/rules"}, Crumb{Name: rf.Name}), ID: id, Name: rf.Name,
				Content: rf.Content, Sample: sampleEvents}
			v.Flash = &Flash{Kind: "err", Text: "Not saved: the rule does not load. Nothing was rolled out."}
			for _, p := range pe.Problems {
				v.Problems = append(v.Problems, p.Error())
			}
			return u.r.render(w, http.StatusBadRequest, "rule_edit", v)
		}
		return err
	}
	action := "updateRule"
	if id == "" {
		action = "createRule"
	}
	c.audit(action, rf.Name, map[string]any{"name": rf.Name, "policy_version": pv.Version})
	return c.redirect(w, "/rules", "ok", fmt.Sprintf("Saved %s and rolled out policy v%d.", rf.Name, pv.Version))
}

func (u *UI) ruleDelete(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	id := r.PathValue("id")
	f, err := u.st.RuleFile(r.Context(), id)
	if err != nil {
		return err
	}
	_, pv, err := u.cfg.Policy.Change(r.Context(), store.RuleChange{Delete: []string{id}, Actor: c.user.Username, Comment: "deleted " + f.Name})
	if err != nil {
		return err
	}
	c.audit("deleteRule", f.Name, map[string]any{"policy_version": pv.Version})
	return c.redirect(w, "/rules", "ok", fmt.Sprintf("Deleted %s and rolled out policy v%d.", f.Name, pv.Version))
}

func (u *UI) ruleToggle(disable bool) func(http.ResponseWriter, *http.Request, *reqCtx) error {
	return func(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
		id := r.PathValue("id")
		if src, ok := u.cfg.Policy.Source(r.Context(), id); !ok || !src.Builtin {
			return fmt.Errorf("built-in rule %q: %w", id, store.ErrNotFound)
		}
		ch := store.RuleChange{Actor: c.user.Username}
		action, verb := "enableBuiltinRule", "Enabled"
		if disable {
			ch.Disable, ch.Comment, action, verb = []string{id}, "disabled "+id, "disableBuiltinRule", "Disabled"
		} else {
			ch.Enable, ch.Comment = []string{id}, "enabled "+id
		}
		_, pv, err := u.cfg.Policy.Change(r.Context(), ch)
		if err != nil {
			return err
		}
		c.audit(action, id, map[string]any{"policy_version": pv.Version})
		return c.redirect(w, "/rules/builtin/"+url.PathEscape(id), "ok", fmt.Sprintf("%s %s fleet-wide: policy v%d rolled out.", verb, id, pv.Version))
	}
}

type lintRequest struct {
	Name    string `json:"name"`
	Content string `json:"content"`
	Events  string `json:"events"`
}

type lintAnswer struct {
	OK       bool     `json:"ok"`
	Summary  string   `json:"summary,omitempty"`
	Problems []string `json:"problems,omitempty"`
	Output   string   `json:"output,omitempty"`
}

func writeJSON(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	return json.NewEncoder(w).Encode(v)
}

func readLint(r *http.Request) (lintRequest, error) {
	var req lintRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return req, &wire.Error{Code: wire.CodeBadRequest, Message: "want {name, content, events} as JSON: " + err.Error()}
	}
	if req.Name == "" {
		req.Name = "rule.yml"
	}
	return req, nil
}

// ruleLint checks a rule file as the editor types it: the engine's problems with line numbers.
func (u *UI) ruleLint(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	req, err := readLint(r)
	if err != nil {
		return err
	}
	ps, err := u.cfg.Policy.Lint(req.Name, req.Content)
	if err != nil {
		return writeJSON(w, lintAnswer{Problems: []string{err.Error()}})
	}
	ans := lintAnswer{OK: true}
	for _, p := range ps {
		ans.Problems = append(ans.Problems, p.Error())
		if !p.Warning {
			ans.OK = false
		}
	}
	if ans.OK {
		rs, _ := policies.ParseBytes(req.Name, []byte(req.Content), policies.LoadOptions{})
		n := 0
		if rs != nil {
			n = rs.Len()
		}
		ans.Summary = fmt.Sprintf("%d rule%s load", n, plural(n))
		if n == 1 {
			ans.Summary = "1 rule loads"
		}
		if len(ans.Problems) > 0 {
			ans.Summary += "; " + strings.Join(ans.Problems, "; ")
		}
	}
	return writeJSON(w, ans)
}

// ruleTest runs a rule file over sample events (JSON lines) in the same engine the agents run.
func (u *UI) ruleTest(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	req, err := readLint(r)
	if err != nil {
		return err
	}
	rs, problems := policies.ParseBytes(req.Name, []byte(req.Content), policies.LoadOptions{})
	var errs []string
	for _, p := range problems {
		if !p.Warning {
			errs = append(errs, p.Error())
		}
	}
	if len(errs) > 0 || rs == nil {
		return writeJSON(w, lintAnswer{Output: "The rule does not load:\n" + strings.Join(errs, "\n")})
	}
	eng, err := policies.NewEngine(rs, policies.EngineOptions{})
	if err != nil {
		return writeJSON(w, lintAnswer{Output: "The rule does not load: " + err.Error()})
	}
	var out []string
	emit := func(f *policies.Finding) {
		out = append(out, fmt.Sprintf("match: %s [%s] %q events %v", f.RuleID, f.Level, f.Title, f.EventIDs))
	}
	n := 0
	err = event.DecodeLines("sample events", bufio.NewReader(strings.NewReader(req.Events)), event.DecodeOptions{MaxLine: 1 << 20}, func(_ int, ev *event.Event) error {
		n++
		if ev.Host == "" {
			ev.Host = "sample-host"
		}
		eng.Process(ev, emit)
		return nil
	})
	if err != nil {
		return writeJSON(w, lintAnswer{Output: err.Error()})
	}
	eng.Flush(emit)
	if len(out) == 0 {
		return writeJSON(w, lintAnswer{OK: true, Output: fmt.Sprintf("%d event%s, no match.", n, plural(n))})
	}
	return writeJSON(w, lintAnswer{OK: true, Output: fmt.Sprintf("%d event%s, %d match%s:\n%s", n, plural(n), len(out), map[bool]string{true: "", false: "es"}[len(out) == 1], strings.Join(out, "\n"))})
}
