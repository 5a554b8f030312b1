package api

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/vigilhq/vigil/internal/wire"
	"github.com/vigilhq/vigil/policies"
	"github.com/vigilhq/vigil/server/policy"
	"github.com/vigilhq/vigil/server/store"
)

type ruleRequest struct {
	Name    string `json:"name"`
	Content string `json:"content"`
}

type ruleChanged struct {
	Rule          *store.RuleFile `json:"rule,omitempty"`
	PolicyVersion int64           `json:"policy_version"`
	// Warnings are the accepted rule's notes (file:line: warning: ...).
	Warnings []problemOutput `json:"warnings,omitempty"`
}

// BuiltinRule is a built-in rule as the API lists it.
type BuiltinRule struct {
	policies.RuleInfo
	Disabled bool `json:"disabled"`
}

type ruleList struct {
	Custom  []store.RuleFile `json:"custom"`
	Builtin []BuiltinRule    `json:"builtin"`
}

type lintResponse struct {
	OK       bool            `json:"ok"`
	Problems []problemOutput `json:"problems"`
}

type importRequest struct {
	Files []policy.ImportFile `json:"files"`
}

type policyList struct {
	Versions   []store.PolicyVersion `json:"versions"`
	NextCursor string                `json:"next_cursor,omitempty"`
}

func problemsOut(ps []policies.Problem) []problemOutput {
	out := []problemOutput{}
	for _, p := range ps {
		out = append(out, problemOutput{File: p.File, Line: p.Line, Column: p.Column, Message: p.Message, Warning: p.Warning})
	}
	return out
}

func warningsOf(ps []policies.Problem) []policies.Problem {
	var out []policies.Problem
	for _, p := range ps {
		if p.Warning {
			out = append(out, p)
		}
	}
	return out
}

func (a *API) listRules(w http.ResponseWriter, r *http.Request) {
	custom, err := a.d.Store.ListRuleFiles(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	disabled, err := a.d.Store.DisabledBuiltins(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	off := map[string]bool{}
	for _, id := range disabled {
		off[id] = true
	}
	out := ruleList{Custom: custom, Builtin: []BuiltinRule{}}
	if out.Custom == nil {
		out.Custom = []store.RuleFile{}
	}
	for _, info := range a.d.Policy.Builtin() {
		out.Builtin = append(out.Builtin, BuiltinRule{RuleInfo: info, Disabled: off[info.ID] || (info.Name != "" && off[info.Name])})
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) actor(r *http.Request) string {
	p, _ := PrincipalOf(r)
	return p.Username
}

func (a *API) changeRules(w http.ResponseWriter, r *http.Request, c store.RuleChange, status int, lint *ruleRequest) {
	c.Actor = a.actor(r)
	files, pv, err := a.d.Policy.Change(r.Context(), c)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := ruleChanged{PolicyVersion: pv.Version}
	if len(files) > 0 {
		out.Rule = &files[0]
		Audit(r, files[0].ID, map[string]any{"name": files[0].Name, "policy_version": pv.Version})
	} else {
		Audit(r, r.PathValue("id"), map[string]any{"policy_version": pv.Version})
	}
	if lint != nil {
		if ps, err := a.d.Policy.Lint(lint.Name, lint.Content); err == nil {
			out.Warnings = problemsOut(warningsOf(ps))
		}
	}
	writeJSON(w, status, out)
}

// decodeRule reads a rule request and checks its name.
func (a *API) decodeRule(w http.ResponseWriter, r *http.Request) (ruleRequest, bool) {
	var req ruleRequest
	if !a.decodeAdmin(w, r, &req) {
		return req, false
	}
	if err := policy.CheckName(req.Name); err != nil {
		writeError(w, &wire.Error{Code: wire.CodeBadRequest, Message: err.Error(), Field: "name"})
		return req, false
	}
	return req, true
}

func (a *API) createRule(w http.ResponseWriter, r *http.Request) {
	req, ok := a.decodeRule(w, r)
	if !ok {
		return
	}
	// Creating never replaces: a taken name is a conflict.
	files, err := a.d.Store.ListRuleFiles(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	for _, f := range files {
		if f.Name == req.Name {
			writeError(w, &wire.Error{Code: wire.CodeConflict, Message: fmt.Sprintf("a rule file named %q exists (id %s): update it instead", f.Name, f.ID), Field: "name"})
			return
		}
	}
	a.changeRules(w, r, store.RuleChange{Put: []store.RuleFile{{Name: req.Name, Content: req.Content}}, Comment: "create " + req.Name}, http.StatusCreated, &req)
}

func (a *API) updateRule(w http.ResponseWriter, r *http.Request) {
	req, ok := a.decodeRule(w, r)
	if !ok {
		return
	}
	a.changeRules(w, r, store.RuleChange{Put: []store.RuleFile{{ID: r.PathValue("id"), Name: req.Name, Content: req.Content}}, Comment: "update " + req.Name}, http.StatusOK, &req)
}

func (a *API) deleteRule(w http.ResponseWriter, r *http.Request) {
	a.changeRules(w, r, store.RuleChange{Delete: []string{r.PathValue("id")}, Comment: "delete " + r.PathValue("id")}, http.StatusOK, nil)
}

func (a *API) toggleBuiltin(disable bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		c := store.RuleChange{Enable: []string{id}, Comment: "enable built-in " + id}
		if disable {
			c = store.RuleChange{Disable: []string{id}, Comment: "disable built-in " + id}
		}
		a.changeRules(w, r, c, http.StatusOK, nil)
	}
}

func (a *API) getRule(w http.ResponseWriter, r *http.Request) {
	f, err := a.d.Store.RuleFile(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, f)
}

func (a *API) lintRule(w http.ResponseWriter, r *http.Request) {
	var req ruleRequest
	if !a.decodeAdmin(w, r, &req) {
		return
	}
	ps, err := a.d.Policy.Lint(req.Name, req.Content)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	ok := true
	for _, p := range ps {
		ok = ok && p.Warning
	}
	writeJSON(w, http.StatusOK, lintResponse{OK: ok, Problems: problemsOut(ps)})
}

// importRules takes JSON {"files": [...]} or a gzip-compressed tar of a rule folder
// (Content-Type application/gzip or application/x-gtar).
func (a *API) importRules(w http.ResponseWriter, r *http.Request) {
	var files []policy.ImportFile
	ct := strings.ToLower(strings.TrimSpace(strings.Split(r.Header.Get("Content-Type"), ";")[0]))
	switch ct {
	case "application/gzip", "application/x-gzip", "application/x-gtar", "application/x-tar+gzip":
		var werr *wire.Error
		files, werr = readRuleTar(http.MaxBytesReader(w, r.Body, 64<<20))
		if werr != nil {
			writeError(w, werr)
			return
		}
	default:
		var req importRequest
		if werr := decodeJSON(w, r, &req, 64<<20, 256<<20, true); werr != nil {
			writeError(w, werr)
			return
		}
		files = req.Files
	}
	if len(files) == 0 {
		// Nothing to publish: a folder of test cases only, a wrong archive, an empty list. A
		// 200 with version 0 would read as an import that went through.
		writeError(w, &wire.Error{Code: wire.CodeBadRequest, Field: "files",
			Message: "the import holds no rule file (.yml or .yaml; test cases, *.test.yml, are skipped)"})
		return
	}
	rep, err := a.d.Policy.Import(r.Context(), files, a.actor(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	Audit(r, strconv.FormatInt(rep.Version, 10), map[string]any{"accepted": len(rep.Accepted), "refused": len(rep.Refused)})
	writeJSON(w, http.StatusOK, rep)
}

// readRuleTar reads the .yml/.yaml files of a tar.gz (test cases and other files skipped),
// named by their path in the archive without its first folder when all share one.
func readRuleTar(r io.Reader) ([]policy.ImportFile, *wire.Error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: "not a gzip archive: " + err.Error()}
	}
	defer zr.Close()
	tr := tar.NewReader(&cappedReader{r: zr, n: 256 << 20})
	var files []policy.ImportFile
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) || errors.Is(err, errDecodedTooLarge) {
				return nil, tooLarge(64 << 20)
			}
			return nil, &wire.Error{Code: wire.CodeBadRequest, Message: "reading the tar archive: " + err.Error()}
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := strings.TrimPrefix(path.Clean(strings.ReplaceAll(h.Name, "\\", "/")), "./")
		l := strings.ToLower(name)
		if !(strings.HasSuffix(l, ".yml") || strings.HasSuffix(l, ".yaml")) || strings.HasSuffix(l, ".test.yml") || strings.HasSuffix(l, ".test.yaml") {
			continue
		}
		if h.Size > policy.MaxRuleFileBytes {
			files = append(files, policy.ImportFile{Name: name, Content: strings.Repeat(" ", policy.MaxRuleFileBytes+1)})
			continue
		}
		b, err := io.ReadAll(io.LimitReader(tr, policy.MaxRuleFileBytes+1))
		if err != nil {
			if errors.Is(err, errDecodedTooLarge) {
				return nil, tooLarge(64 << 20)
			}
			return nil, &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("reading %s from the archive: %v", name, err)}
		}
		files = append(files, policy.ImportFile{Name: name, Content: string(b)})
	}
	// Drop a folder all files share (rules-main/...).
	if len(files) > 0 {
		first, _, ok := strings.Cut(files[0].Name, "/")
		for _, f := range files {
			if !ok || !strings.HasPrefix(f.Name, first+"/") {
				ok = false
				break
			}
		}
		if ok {
			for i := range files {
				files[i].Name = strings.TrimPrefix(files[i].Name, first+"/")
			}
		}
	}
	return files, nil
}

func (a *API) listPolicyVersions(w http.ResponseWriter, r *http.Request) {
	p, werr := page(r)
	if werr != nil {
		writeError(w, werr)
		return
	}
	list, next, err := a.d.Store.ListPolicyVersions(r.Context(), p)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if list == nil {
		list = []store.PolicyVersion{}
	}
	writeJSON(w, http.StatusOK, policyList{Versions: list, NextCursor: next})
}

func (a *API) getPolicyVersion(w http.ResponseWriter, r *http.Request) {
	v, err := strconv.ParseInt(r.PathValue("version"), 10, 64)
	if err != nil || v <= 0 {
		writeError(w, &wire.Error{Code: wire.CodeBadRequest, Message: "version: want a positive integer", Field: "version"})
		return
	}
	pv, err := a.d.Store.PolicyVersion(r.Context(), v)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, pv)
}
