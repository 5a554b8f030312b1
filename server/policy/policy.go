package policy

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigilhq/vigil/internal/wire"
	"github.com/vigilhq/vigil/policies"
	"github.com/vigilhq/vigil/server/store"
)

// Caps on custom rules, so that one upload cannot exhaust the server's (or the agents') memory.
const (
	// MaxRuleFileBytes caps one rule file (SigmaHQ's largest is 295 KB).
	MaxRuleFileBytes = 1 << 20
	// MaxDocumentsPerFile caps the YAML documents of one file.
	MaxDocumentsPerFile = 64
	// MaxRuleFiles caps the custom rule files (a whole SigmaHQ checkout is about 3,500).
	MaxRuleFiles = 10000
	// MaxTotalBytes caps the custom rules' total size (the bundle agents download).
	MaxTotalBytes = 48 << 20
	// MaxNameBytes caps a rule file name.
	MaxNameBytes = 255
)

// Store is what the policy service needs of the store.
type Store interface {
	store.Rules
	store.Policies
}

// Config configures a Service.
type Config struct {
	Store Store
	// Key signs the bundles.
	Key    ed25519.PrivateKey
	Logger hclog.Logger
	// RefreshEvery bounds how stale the cached current version may be on a replica that did not
	// publish it (default 5 s).
	RefreshEvery time.Duration
}

// Service validates rule changes and publishes signed bundles.
type Service struct {
	st      Store
	key     ed25519.PrivateKey
	log     hclog.Logger
	refresh time.Duration

	builtin      *policies.Ruleset
	builtinInfo  map[string]policies.RuleInfo // id and name -> info
	builtinFiles map[string]string            // file -> content

	mu         sync.Mutex
	cur        *store.PolicyVersion
	checked    time.Time
	refreshing bool
	custom     *customCatalog
}

type customCatalog struct {
	version int64
	info    map[string]RuleSource
}

// New loads the built-in pack and returns a Service.
func New(cfg Config) (*Service, error) {
	if len(cfg.Key) != ed25519.PrivateKeySize {
		return nil, errors.New("policy: no signing key")
	}
	s := &Service{st: cfg.Store, key: cfg.Key, log: cfg.Logger, refresh: cfg.RefreshEvery,
		builtinInfo: map[string]policies.RuleInfo{}, builtinFiles: map[string]string{}}
	if s.log == nil {
		s.log = hclog.NewNullLogger()
	}
	if s.refresh <= 0 {
		s.refresh = 5 * time.Second
	}
	rs, err := LoadStrict(policies.BuiltinFS())
	if err != nil {
		return nil, fmt.Errorf("policy: built-in pack: %w", err)
	}
	s.builtin = rs
	for _, info := range rs.Rules() {
		s.builtinInfo[info.ID] = info
		if info.Name != "" {
			s.builtinInfo[info.Name] = info
		}
	}
	err = fs.WalkDir(policies.BuiltinFS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(policies.BuiltinFS(), p)
		if err == nil {
			s.builtinFiles[p] = string(b)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("policy: built-in pack: %w", err)
	}
	return s, nil
}

// LoadStrict loads the rule files of fsys, refusing any problem but a warning.
func LoadStrict(fsys fs.FS) (*policies.Ruleset, error) {
	rs, problems, err := policies.LoadFS(fsys, policies.LoadOptions{})
	if err != nil {
		return nil, err
	}
	if bad := errorsOnly(problems); len(bad) > 0 {
		return nil, &ProblemsError{Problems: bad}
	}
	return rs, nil
}

// PublicKey is the key agents verify bundles with.
func (s *Service) PublicKey() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// Builtin returns the built-in rules and correlations.
func (s *Service) Builtin() []policies.RuleInfo { return s.builtin.Rules() }

// ProblemsError is a change refused because rules do not load: each problem names file and line.
type ProblemsError struct {
	Problems []policies.Problem
}

func (e *ProblemsError) Error() string {
	msgs := make([]string, 0, len(e.Problems))
	for _, p := range e.Problems {
		msgs = append(msgs, p.Error())
	}
	return strings.Join(msgs, "\n")
}

// LimitError is a change refused by a size cap.
type LimitError struct{ Msg string }

func (e *LimitError) Error() string { return e.Msg }

// CheckName validates a rule file name: a relative path of .yml/.yaml files, without "..".
func CheckName(name string) error {
	switch {
	case name == "":
		return errors.New("empty rule file name")
	case len(name) > MaxNameBytes:
		return fmt.Errorf("rule file name longer than %d bytes", MaxNameBytes)
	case strings.ContainsAny(name, "\\\x00") || path.IsAbs(name) || path.Clean(name) != name || strings.HasPrefix(name, "../") || name == "..":
		return fmt.Errorf("rule file name %q: want a clean relative path with / separators", name)
	}
	l := strings.ToLower(name)
	if !strings.HasSuffix(l, ".yml") && !strings.HasSuffix(l, ".yaml") {
		return fmt.Errorf("rule file name %q: want a .yml or .yaml name", name)
	}
	if strings.HasSuffix(l, ".test.yml") || strings.HasSuffix(l, ".test.yaml") {
		return fmt.Errorf("rule file name %q: test-case files are not rules", name)
	}
	return nil
}

// checkFile applies the per-file caps.
func checkFile(name, content string) error {
	if err := CheckName(name); err != nil {
		return &LimitError{err.Error()}
	}
	if len(content) > MaxRuleFileBytes {
		return &LimitError{fmt.Sprintf("%s: %d bytes, more than the %d a rule file may have", name, len(content), MaxRuleFileBytes)}
	}
	if n := len(splitDocuments(content)); n > MaxDocumentsPerFile {
		return &LimitError{fmt.Sprintf("%s: %d YAML documents, more than the %d a rule file may have", name, n, MaxDocumentsPerFile)}
	}
	if n := len(splitDocuments(content)); n == 0 {
		return &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("%s: empty rule file", name), Field: "content"}
	}
	return nil
}

// Lint parses one rule file on its own and against the built-in pack, and returns its problems
// (warnings included). It stores nothing.
func (s *Service) Lint(name, content string) ([]policies.Problem, error) {
	if err := checkFile(name, content); err != nil {
		return nil, err
	}
	rs, problems := policies.ParseBytes(name, []byte(content), policies.LoadOptions{})
	merged, more := policies.Merge(s.builtin, rs)
	more = append(more, policies.UnrankedFindings(merged)...)
	return append(problems, onlyFile(more, name)...), nil
}

func onlyFile(ps []policies.Problem, name string) []policies.Problem {
	var out []policies.Problem
	for _, p := range ps {
		if p.File == name {
			out = append(out, p)
		}
	}
	return out
}

func errorsOnly(ps []policies.Problem) []policies.Problem {
	var out []policies.Problem
	for _, p := range ps {
		if !p.Warning {
			out = append(out, p)
		}
	}
	return out
}

// compile loads the built-in pack with the custom files and returns the refusing problems.
func (s *Service) compile(rules []store.RuleFile) (*policies.Ruleset, []policies.Problem) {
	sets := []*policies.Ruleset{s.builtin}
	var problems []policies.Problem
	for _, r := range rules {
		rs, ps := policies.ParseBytes(r.Name, []byte(r.Content), policies.LoadOptions{})
		problems = append(problems, ps...)
		sets = append(sets, rs)
	}
	merged, more := policies.Merge(sets...)
	more = append(more, policies.UnrankedFindings(merged)...) // the ingest would refuse their findings
	return merged, errorsOnly(append(problems, more...))
}

// builder returns the store.BundleBuilder that compiles and signs the rules a change leaves.
func (s *Service) builder() store.BundleBuilder {
	return func(version int64, created time.Time, rules []store.RuleFile, disabled []string) (wire.Bundle, error) {
		if len(rules) > MaxRuleFiles {
			return wire.Bundle{}, &LimitError{fmt.Sprintf("%d custom rule files, more than the %d allowed", len(rules), MaxRuleFiles)}
		}
		total := 0
		for _, r := range rules {
			total += len(r.Content)
		}
		if total > MaxTotalBytes {
			return wire.Bundle{}, &LimitError{fmt.Sprintf("custom rules total %d bytes, more than the %d allowed", total, MaxTotalBytes)}
		}
		for _, id := range disabled {
			if _, ok := s.builtinInfo[id]; !ok {
				return wire.Bundle{}, fmt.Errorf("built-in rule %q: %w", id, store.ErrNotFound)
			}
		}
		if _, problems := s.compile(rules); len(problems) > 0 {
			return wire.Bundle{}, &ProblemsError{Problems: problems}
		}
		b := wire.Bundle{Version: version, Created: created, Disabled: slices.Clone(disabled)}
		for _, r := range rules {
			b.Rules = append(b.Rules, wire.RuleFile{Name: r.Name, Content: r.Content})
		}
		if err := b.Sign(s.key); err != nil {
			return wire.Bundle{}, err
		}
		return b, nil
	}
}

// Change validates and applies a change to the custom rules, publishing a new signed version.
// Errors: *LimitError, *ProblemsError, *wire.Error, store.ErrNotFound, store.ErrConflict.
func (s *Service) Change(ctx context.Context, c store.RuleChange) ([]store.RuleFile, store.PolicyVersion, error) {
	for _, r := range c.Put {
		if err := checkFile(r.Name, r.Content); err != nil {
			return nil, store.PolicyVersion{}, err
		}
	}
	files, pv, err := s.st.ChangeRules(ctx, c, s.builder())
	if err != nil {
		return nil, pv, err
	}
	s.mu.Lock()
	s.cur, s.checked = &pv, time.Now()
	s.mu.Unlock()
	s.log.Info("policy version published", "version", pv.Version, "by", c.Actor, "rules", len(pv.Bundle.Rules), "disabled", len(pv.Bundle.Disabled))
	return files, pv, nil
}

// ImportFile is one file of an import.
type ImportFile struct {
	Name    string `json:"name"`
	Content string `json:"content"`
}

// Refused is a file an import left out, and why.
type Refused struct {
	Name     string             `json:"name"`
	Reason   string             `json:"reason"`
	Problems []policies.Problem `json:"problems,omitempty"`
}

// ImportReport says what an import did.
type ImportReport struct {
	Accepted []string  `json:"accepted"`
	Refused  []Refused `json:"refused"`
	// Version is the policy version published (0 when nothing was accepted).
	Version int64 `json:"version"`
}

// Import adds or replaces many rule files leniently: a file that does not load (alone, or with
// the built-in pack, the stored rules and the files before it) is refused and reported; the rest
// are published as one new version.
func (s *Service) Import(ctx context.Context, files []ImportFile, actor string) (ImportReport, error) {
	rep := ImportReport{Accepted: []string{}, Refused: []Refused{}}
	stored, err := s.st.ListRuleFiles(ctx)
	if err != nil {
		return rep, err
	}
	byName := map[string]int{}
	for i, r := range stored {
		byName[r.Name] = i
	}
	base := []*policies.Ruleset{s.builtin}
	// The stored files that the import does not replace stay.
	importing := map[string]bool{}
	for _, f := range files {
		importing[f.Name] = true
	}
	for _, r := range stored {
		if !importing[r.Name] {
			rs, _ := policies.ParseBytes(r.Name, []byte(r.Content), policies.LoadOptions{})
			base = append(base, rs)
		}
	}
	// Each file alone first, then all together: a file whose documents the merge refuses
	// (an id taken by another rule, a correlation that does not resolve...) is refused and the
	// merge redone without it, until it is clean.
	type candidate struct {
		f  ImportFile
		rs *policies.Ruleset
	}
	var cands []candidate
	seen := map[string]bool{}
	for _, f := range files {
		if seen[f.Name] {
			rep.Refused = append(rep.Refused, Refused{Name: f.Name, Reason: "the import holds this name twice"})
			continue
		}
		seen[f.Name] = true
		if err := checkFile(f.Name, f.Content); err != nil {
			rep.Refused = append(rep.Refused, Refused{Name: f.Name, Reason: err.Error()})
			continue
		}
		rs, problems := policies.ParseBytes(f.Name, []byte(f.Content), policies.LoadOptions{})
		if bad := errorsOnly(problems); len(bad) > 0 {
			rep.Refused = append(rep.Refused, Refused{Name: f.Name, Reason: "does not load", Problems: bad})
			continue
		}
		cands = append(cands, candidate{f, rs})
	}
	for len(cands) > 0 {
		sets := append([]*policies.Ruleset(nil), base...)
		for _, c := range cands {
			sets = append(sets, c.rs)
		}
		_, problems := policies.Merge(sets...)
		byFile := map[string][]policies.Problem{}
		for _, p := range errorsOnly(problems) {
			byFile[p.File] = append(byFile[p.File], p)
		}
		kept := cands[:0]
		for _, c := range cands {
			if ps, bad := byFile[c.f.Name]; bad {
				rep.Refused = append(rep.Refused, Refused{Name: c.f.Name, Reason: "conflicts with the rules already loaded", Problems: ps})
				continue
			}
			kept = append(kept, c)
		}
		if len(kept) == len(cands) {
			break
		}
		cands = kept
	}
	var put []store.RuleFile
	for _, c := range cands {
		put = append(put, store.RuleFile{Name: c.f.Name, Content: c.f.Content})
		rep.Accepted = append(rep.Accepted, c.f.Name)
	}
	if len(put) == 0 {
		return rep, nil
	}
	_, pv, err := s.Change(ctx, store.RuleChange{Put: put, Actor: actor, Comment: fmt.Sprintf("import of %d rule files", len(put))})
	if err != nil {
		return rep, err
	}
	rep.Version = pv.Version
	return rep, nil
}

// Current returns the newest policy version (store.ErrNotFound before the first), cached for
// RefreshEvery.
func (s *Service) Current(ctx context.Context) (*store.PolicyVersion, error) {
	s.mu.Lock()
	cur, known := s.cur, !s.checked.IsZero()
	fresh := known && time.Since(s.checked) < s.refresh
	// One caller refreshes; the others answer with what is known meanwhile.
	if !fresh && known && s.refreshing {
		fresh = true
	}
	if !fresh {
		s.refreshing = true
	}
	s.mu.Unlock()
	if fresh {
		if cur == nil {
			return nil, fmt.Errorf("policy: none published: %w", store.ErrNotFound)
		}
		return cur, nil
	}
	defer func() {
		s.mu.Lock()
		s.refreshing = false
		s.mu.Unlock()
	}()
	v, err := s.st.CurrentPolicyVersion(ctx)
	if err != nil {
		return nil, err
	}
	if v == 0 {
		s.mu.Lock()
		s.cur, s.checked = nil, time.Now()
		s.mu.Unlock()
		return nil, fmt.Errorf("policy: none published: %w", store.ErrNotFound)
	}
	if cur == nil || cur.Version != v {
		pv, err := s.st.CurrentPolicy(ctx)
		if err != nil {
			return nil, err
		}
		cur = &pv
	}
	s.mu.Lock()
	if s.cur == nil || cur.Version >= s.cur.Version {
		s.cur = cur
	}
	s.checked = time.Now()
	cur = s.cur
	s.mu.Unlock()
	return cur, nil
}

// Version returns the current policy version number (0 before the first), cached. Errors read
// as the last known version, so a check-in never fails for it.
func (s *Service) Version(ctx context.Context) int64 {
	cur, err := s.Current(ctx)
	if err != nil || cur == nil {
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.cur != nil {
				return s.cur.Version
			}
		}
		return 0
	}
	return cur.Version
}

// RuleSource is a rule's text and authorship, for finding details.
type RuleSource struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	Author  string `json:"author,omitempty"`
	Level   string `json:"level,omitempty"`
	File    string `json:"file"`
	Builtin bool   `json:"builtin"`
	// Text is the rule's YAML document.
	Text string `json:"text"`
}

// Source returns the text of the rule or correlation with that id or name: built-in, or custom
// in the current version.
func (s *Service) Source(ctx context.Context, id string) (RuleSource, bool) {
	if info, ok := s.builtinInfo[id]; ok {
		return RuleSource{ID: info.ID, Title: info.Title, Author: info.Author, Level: info.Level, File: info.File, Builtin: true,
			Text: documentAt(s.builtinFiles[info.File], info.Line)}, true
	}
	cur, err := s.Current(ctx)
	if err != nil {
		return RuleSource{}, false
	}
	s.mu.Lock()
	cat := s.custom
	s.mu.Unlock()
	if cat == nil || cat.version != cur.Version {
		cat = &customCatalog{version: cur.Version, info: map[string]RuleSource{}}
		for _, f := range cur.Bundle.Rules {
			rs, _ := policies.ParseBytes(f.Name, []byte(f.Content), policies.LoadOptions{})
			for _, info := range rs.Rules() {
				src := RuleSource{ID: info.ID, Title: info.Title, Author: info.Author, Level: info.Level, File: f.Name, Text: documentAt(f.Content, info.Line)}
				cat.info[info.ID] = src
				if info.Name != "" {
					cat.info[info.Name] = src
				}
			}
		}
		s.mu.Lock()
		s.custom = cat
		s.mu.Unlock()
	}
	src, ok := cat.info[id]
	return src, ok
}
