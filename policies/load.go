package policies

import (
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/vigilhq/vigil/policies/correlate"
	"github.com/vigilhq/vigil/policies/match"
	"github.com/vigilhq/vigil/policies/sigma"
)

// Ruleset is a loaded, compiled set of rules, correlations and filters. It is immutable once
// built and safe to share between goroutines and Engines.
type Ruleset struct {
	src     []source // the accepted documents, to rebuild on Merge
	fields  *match.FieldTable
	rules   []*ruleEntry
	corrs   []*corrEntry
	filters []*filterEntry
	infos   []RuleInfo

	specs     []correlate.Spec // active correlations, resolved
	specCorr  []int            // spec index -> corrs index
	corrSpec  []int            // corrs index -> spec index, -1 inactive
	baseInCor []bool           // rule index -> referenced by an active correlation

	indexOnce sync.Once
	index     *match.Index
}

// source is one accepted document with the options it was loaded with.
type source struct {
	rule   *sigma.Rule
	corr   *sigma.Correlation
	filter *sigma.Filter
	opts   LoadOptions
}

type ruleEntry struct {
	ast     *sigma.Rule
	m       *match.Matcher
	filters []*filterEntry
	silent  bool // referenced by correlations, none with generate: true
	builtin bool
	key     string
}

type filterEntry struct {
	ast *sigma.Filter
	m   *match.Matcher
	ls  sigma.Logsource
}

type corrEntry struct {
	ast     *sigma.Correlation
	silent  bool
	builtin bool
	key     string
}

// LoadPaths loads rule files and folders (recursively: *.yml and *.yaml, skipping test-case
// files named *.test.yml / *.test.yaml). Problems name refused documents and warnings; the error
// is only for I/O failures.
func LoadPaths(paths []string, opts LoadOptions) (*Ruleset, []Problem, error) {
	dirs := make([]bool, len(paths))
	for i, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, nil, fmt.Errorf("load rules: %w", err)
		}
		dirs[i] = info.IsDir()
	}
	walk := func(found func(name string)) error {
		for i, p := range paths {
			if !dirs[i] {
				found(p) // a file named on its own is read whatever its name
				continue
			}
			err := filepath.WalkDir(p, ruleFileWalker(found))
			if err != nil {
				return fmt.Errorf("load rules from %s: %w", p, err)
			}
		}
		return nil
	}
	return loadParsed(walk, func(name string) (io.ReadCloser, error) { return os.Open(name) }, opts)
}

// loadParsed parses the files walk finds (parseFiles) and compiles their documents as they
// arrive, in order, while the other files are still being parsed.
func loadParsed(walk func(found func(name string)) error, open func(name string) (io.ReadCloser, error), opts LoadOptions) (*Ruleset, []Problem, error) {
	var problems []Problem
	var err error
	rs, more := build(func(yield func(source) bool) {
		err = parseFiles(walk, open, opts, func(f *sigma.File, errs []sigma.Error) bool {
			for _, e := range errs {
				problems = append(problems, problemOf(e))
			}
			for _, s := range sources([]*sigma.File{f}, opts) {
				if !yield(s) {
					return false
				}
			}
			return true
		})
	})
	if err != nil {
		return nil, nil, err
	}
	return rs, append(problems, more...), nil
}

// parseFiles reads and parses the rule files walk finds, several at a time and while it walks
// (parsing YAML is most of loading), and hands each to deliver in the order found, as soon as
// it and those before it are parsed. A file is read no further than one byte past the size
// limit: enough for the parser to refuse it, without holding a huge file. It returns the first
// error of the walk or of reading a file.
func parseFiles(walk func(found func(name string)) error, open func(name string) (io.ReadCloser, error), opts LoadOptions, deliver func(*sigma.File, []sigma.Error) bool) error {
	type result struct {
		file *sigma.File
		errs []sigma.Error
		err  error
	}
	type job struct {
		name string
		out  chan result
	}
	jobs := make(chan job, 64)
	order := make(chan chan result, 256) // the jobs' results, in the order found
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				var r result
				f, err := open(j.name)
				data, err := readLimited(f, err, opts.Limits.fileBytes())
				if err != nil {
					r.err = fmt.Errorf("load rules: %w", err)
				} else {
					r.file, r.errs = sigma.ParseLimited(j.name, data, opts.Limits.sigma())
				}
				j.out <- r
			}
		}()
	}
	var werr error
	go func() {
		werr = walk(func(name string) {
			out := make(chan result, 1)
			jobs <- job{name, out}
			order <- out
		})
		close(jobs)
		close(order)
	}()
	var err error
	stopped := false
	for out := range order {
		r := <-out
		switch {
		case stopped:
			// Drain, so the walker and the workers finish.
		case r.err != nil:
			err, stopped = r.err, true
		case !deliver(r.file, r.errs):
			stopped = true
		}
	}
	wg.Wait()
	if werr != nil {
		return werr
	}
	return err
}

// LoadFS is LoadPaths over a file system (the whole tree from its root).
func LoadFS(fsys fs.FS, opts LoadOptions) (*Ruleset, []Problem, error) {
	walk := func(found func(name string)) error {
		err := fs.WalkDir(fsys, ".", ruleFileWalker(found))
		if err != nil {
			return fmt.Errorf("load rules: %w", err)
		}
		return nil
	}
	return loadParsed(walk, func(name string) (io.ReadCloser, error) { return fsys.Open(name) }, opts)
}

// ruleFileWalker is a WalkDir function handing found each rule file (isRuleFile) it passes.
func ruleFileWalker(found func(name string)) fs.WalkDirFunc {
	return func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && isRuleFile(d.Name()) {
			found(path)
		}
		return nil
	}
}

// ParseBytes loads one rule file's content; name is used in problems.
func ParseBytes(name string, data []byte, opts LoadOptions) (*Ruleset, []Problem) {
	pf, errs := sigma.ParseLimited(name, data, opts.Limits.sigma())
	var problems []Problem
	for _, e := range errs {
		problems = append(problems, problemOf(e))
	}
	rs, more := build(slices.Values(sources([]*sigma.File{pf}, opts)))
	return rs, append(problems, more...)
}

// Merge combines rulesets into a new one (references between them resolve). A rule or
// correlation whose id or name is already taken is refused, as a problem.
func Merge(sets ...*Ruleset) (*Ruleset, []Problem) {
	var src []source
	for _, s := range sets {
		if s != nil {
			src = append(src, s.src...)
		}
	}
	return build(slices.Values(src))
}

// readLimited reads an opened file, but no more than limit+1 bytes.
func readLimited(f io.ReadCloser, err error, limit int) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, int64(limit)+1))
}

func isRuleFile(name string) bool {
	l := strings.ToLower(name)
	if strings.HasSuffix(l, ".test.yml") || strings.HasSuffix(l, ".test.yaml") {
		return false
	}
	return strings.HasSuffix(l, ".yml") || strings.HasSuffix(l, ".yaml")
}

func sources(files []*sigma.File, opts LoadOptions) []source {
	var out []source
	for _, f := range files {
		for _, r := range f.Rules {
			out = append(out, source{rule: r, opts: opts})
		}
		for _, c := range f.Correlations {
			out = append(out, source{corr: c, opts: opts})
		}
		for _, fl := range f.Filters {
			out = append(out, source{filter: fl, opts: opts})
		}
	}
	return out
}

func at(file string, p sigma.Pos, warning bool, format string, args ...any) Problem {
	return Problem{File: file, Line: p.Line, Column: p.Column, Message: fmt.Sprintf(format, args...), Warning: warning}
}

// ruleKey is how findings and references name a rule: its id, else its name, else file:line.
func ruleKey(m *sigma.Meta, file string, p sigma.Pos) string {
	switch {
	case m.ID != "":
		return m.ID
	case m.Name != "":
		return m.Name
	}
	return fmt.Sprintf("%s:%d", file, p.Line)
}

// build compiles and links accepted documents, compiling rules as src yields them.
func build(src iter.Seq[source]) (*Ruleset, []Problem) {
	rs := &Ruleset{fields: match.NewFieldTable()}
	budget := &match.Budget{}
	var problems []Problem
	taken := map[string]string{} // id or name -> where
	claim := func(m *sigma.Meta, file string, p sigma.Pos) bool {
		for _, k := range []string{m.ID, m.Name} {
			if k == "" {
				continue
			}
			if where, ok := taken[k]; ok {
				what := "id"
				if k == m.Name && k != m.ID {
					what = "name"
				}
				problems = append(problems, at(file, p, false, "duplicate %s %q (already used at %s): document skipped", what, k, where))
				return false
			}
		}
		for _, k := range []string{m.ID, m.Name} {
			if k != "" {
				taken[k] = fmt.Sprintf("%s:%d", file, p.Line)
			}
		}
		return true
	}
	var filterSrc []source
	for s := range src {
		switch {
		case s.rule != nil:
			r := s.rule
			s.opts.Limits.apply(budget)
			cm := &match.Compiler{Fields: rs.fields, Placeholders: s.opts.Placeholders, Budget: budget}
			m, errs := cm.Compile(&r.Detection)
			if len(errs) > 0 {
				for _, e := range errs {
					problems = append(problems, at(r.File, sigma.Pos{Line: e.Line, Column: e.Column}, false, "%s", e.Message))
				}
				continue
			}
			if !claim(&r.Meta, r.File, r.Pos) {
				continue
			}
			rs.rules = append(rs.rules, &ruleEntry{ast: r, m: m, key: ruleKey(&r.Meta, r.File, r.Pos), builtin: s.opts.builtin})
			rs.src = append(rs.src, s)
		case s.corr != nil:
			c := s.corr
			if !claim(&c.Meta, c.File, c.Pos) {
				continue
			}
			rs.corrs = append(rs.corrs, &corrEntry{ast: c, key: ruleKey(&c.Meta, c.File, c.Pos), builtin: s.opts.builtin})
			rs.src = append(rs.src, s)
		case s.filter != nil:
			filterSrc = append(filterSrc, s)
		}
	}
	// Name/id lookup.
	ruleBy := map[string]int{}
	for i, r := range rs.rules {
		for _, k := range []string{r.ast.ID, r.ast.Name} {
			if k != "" {
				ruleBy[k] = i
			}
		}
	}
	corrBy := map[string]int{}
	for i, c := range rs.corrs {
		for _, k := range []string{c.ast.ID, c.ast.Name} {
			if k != "" {
				corrBy[k] = i
			}
		}
	}
	// Filters.
	for _, s := range filterSrc {
		fl := s.filter
		s.opts.Limits.apply(budget)
		cm := &match.Compiler{Fields: rs.fields, Placeholders: s.opts.Placeholders, Budget: budget}
		m, errs := cm.Compile(&fl.Detection)
		if len(errs) > 0 {
			for _, e := range errs {
				problems = append(problems, at(fl.File, sigma.Pos{Line: e.Line, Column: e.Column}, false, "%s", e.Message))
			}
			continue
		}
		fe := &filterEntry{ast: fl, m: m, ls: fl.Logsource}
		rs.filters = append(rs.filters, fe)
		rs.src = append(rs.src, s)
		for _, ref := range fl.Rules {
			i, ok := ruleBy[ref]
			if !ok {
				problems = append(problems, at(fl.File, fl.Pos, true, "filter %q: rule %q is not loaded; the filter does not apply to it", fl.Title, ref))
				continue
			}
			rs.rules[i].filters = append(rs.rules[i].filters, fe)
		}
	}
	problems = append(problems, rs.linkCorrelations(ruleBy, corrBy)...)
	for _, r := range rs.rules {
		info := infoOf(&r.ast.Meta, r.key, r.ast.Logsource, r.ast.File, r.ast.Line, "rule", "")
		info.Silent, info.Builtin = r.silent, r.builtin
		rs.infos = append(rs.infos, info)
	}
	for _, c := range rs.corrs {
		info := infoOf(&c.ast.Meta, c.key, sigma.Logsource{}, c.ast.File, c.ast.Line, "correlation", c.ast.Type)
		info.Silent, info.Builtin = c.silent, c.builtin
		rs.infos = append(rs.infos, info)
	}
	for i, c := range rs.corrs {
		info := &rs.infos[len(rs.rules)+i]
		for _, name := range c.ast.Rules {
			if j, ok := corrBy[name]; ok {
				info.Uses = append(info.Uses, rs.infos[len(rs.rules)+j].ID)
			} else if j, ok := ruleBy[name]; ok {
				info.Uses = append(info.Uses, rs.infos[j].ID)
			}
		}
	}
	return rs, problems
}

func infoOf(m *sigma.Meta, key string, ls sigma.Logsource, file string, line int, kind, ctype string) RuleInfo {
	id := m.ID
	if id == "" {
		id = key
	}
	return RuleInfo{
		ID: id, Name: m.Name, Title: m.Title, Description: m.Description, Level: m.Level,
		Status: m.Status, Author: m.Author, Tags: m.Tags, References: m.References,
		FalsePositives: m.FalsePositives,
		Logsource:      Logsource{ls.Category, ls.Product, ls.Service, ls.Definition},
		File:           file, Line: line, Kind: kind, CorrelationType: ctype,
	}
}

// linkCorrelations resolves correlation references. A correlation with a reference that does
// not resolve (or that reaches an inactive correlation, or a cycle) stays loaded but inactive,
// with a warning; only active correlations silence their referenced rules.
func (rs *Ruleset) linkCorrelations(ruleBy, corrBy map[string]int) []Problem {
	var problems []Problem
	n := len(rs.corrs)
	active := make([]bool, n)
	refs := make([][]correlate.Ref, n)
	for i, c := range rs.corrs {
		active[i] = true
		for _, name := range c.ast.Rules {
			if j, ok := corrBy[name]; ok {
				refs[i] = append(refs[i], correlate.CorrRef(j))
			} else if j, ok := ruleBy[name]; ok {
				refs[i] = append(refs[i], correlate.BaseRef(j))
			} else {
				problems = append(problems, at(c.ast.File, c.ast.Pos, true, "correlation %q: rule %q is not loaded (no rule or correlation has that id or name); the correlation stays inactive", c.key, name))
				active[i] = false
			}
		}
	}
	// Inactive propagates to referrers; cycles make every correlation on them inactive.
	state := make([]int, n) // 0 new, 1 visiting, 2 done
	var visit func(i int) bool
	visit = func(i int) bool {
		switch state[i] {
		case 1:
			return false
		case 2:
			return active[i]
		}
		state[i] = 1
		for _, r := range refs[i] {
			if r.Corr >= 0 && !visit(r.Corr) {
				if active[i] {
					c := rs.corrs[i]
					problems = append(problems, at(c.ast.File, c.ast.Pos, true, "correlation %q: referenced correlation %q is inactive or on a reference cycle; this correlation stays inactive", c.key, rs.corrs[r.Corr].key))
				}
				active[i] = false
			}
		}
		state[i] = 2
		return active[i]
	}
	for i := range rs.corrs {
		visit(i)
	}
	rs.corrSpec = make([]int, n)
	for i, c := range rs.corrs {
		rs.corrSpec[i] = -1
		if !active[i] {
			continue
		}
		sp := correlate.Spec{
			Type:     c.ast.Type,
			Rules:    refs[i],
			GroupBy:  c.ast.GroupBy,
			Timespan: c.ast.Timespan,
		}
		for _, op := range c.ast.Ops {
			sp.Condition.Ops = append(sp.Condition.Ops, correlate.Op{Kind: op.Op, Value: op.Value})
		}
		sp.Condition.Fields = c.ast.Fields
		if len(c.ast.Aliases) > 0 {
			sp.AliasFields = map[string][]string{}
			for alias, per := range c.ast.Aliases {
				fields := make([]string, len(c.ast.Rules))
				for pos, name := range c.ast.Rules {
					if f, ok := per[name]; ok {
						fields[pos] = f
						continue
					}
					// The alias may name the rule by its id or name, whichever the rules list
					// does not use.
					for k, f := range per {
						if sameTarget(k, name, ruleBy, corrBy) {
							fields[pos] = f
						}
					}
				}
				sp.AliasFields[alias] = fields
			}
		}
		rs.corrSpec[i] = len(rs.specs)
		rs.specs = append(rs.specs, sp)
		rs.specCorr = append(rs.specCorr, i)
	}
	// Remap correlation references to spec indexes.
	for si := range rs.specs {
		for k, r := range rs.specs[si].Rules {
			if r.Corr >= 0 {
				rs.specs[si].Rules[k] = correlate.CorrRef(rs.corrSpec[r.Corr])
			}
		}
	}
	// Validate with the correlation engine, so problems surface at load time.
	for {
		if len(rs.specs) == 0 {
			break
		}
		_, err := correlate.New(rs.specs, correlate.Options{})
		if err == nil {
			break
		}
		se, ok := err.(*correlate.SpecError)
		if !ok || se.Spec < 0 || se.Spec >= len(rs.specs) {
			problems = append(problems, Problem{Message: "correlations: " + err.Error()})
			rs.dropSpecs(func(int) bool { return true })
			break
		}
		bad := rs.specCorr[se.Spec]
		c := rs.corrs[bad]
		problems = append(problems, at(c.ast.File, c.ast.Pos, false, "correlation %q: %v", c.key, se.Err))
		// Drop it and every spec that references it, transitively.
		drop := map[int]bool{se.Spec: true}
		for changed := true; changed; {
			changed = false
			for si, sp := range rs.specs {
				if drop[si] {
					continue
				}
				for _, r := range sp.Rules {
					if r.Corr >= 0 && drop[r.Corr] {
						drop[si], changed = true, true
						break
					}
				}
			}
		}
		rs.dropSpecs(func(si int) bool { return drop[si] })
	}
	// Silence: a rule or correlation referenced by an active correlation emits no finding of its
	// own unless at least one of those correlations has generate: true.
	referenced := map[correlate.Ref]bool{}
	generated := map[correlate.Ref]bool{}
	rs.baseInCor = make([]bool, len(rs.rules))
	for si, sp := range rs.specs {
		gen := rs.corrs[rs.specCorr[si]].ast.Generate
		for _, r := range sp.Rules {
			referenced[r] = true
			if gen {
				generated[r] = true
			}
			if r.Base >= 0 {
				rs.baseInCor[r.Base] = true
			}
		}
	}
	for i, r := range rs.rules {
		ref := correlate.BaseRef(i)
		r.silent = referenced[ref] && !generated[ref]
	}
	for si, ci := range rs.specCorr {
		ref := correlate.CorrRef(si)
		rs.corrs[ci].silent = referenced[ref] && !generated[ref]
	}
	return problems
}

func sameTarget(a, b string, ruleBy, corrBy map[string]int) bool {
	if i, ok := ruleBy[a]; ok {
		j, ok2 := ruleBy[b]
		return ok2 && i == j
	}
	if i, ok := corrBy[a]; ok {
		j, ok2 := corrBy[b]
		return ok2 && i == j
	}
	return false
}

// dropSpecs removes specs (and renumbers references) for which drop is true.
func (rs *Ruleset) dropSpecs(drop func(si int) bool) {
	newIdx := make([]int, len(rs.specs))
	var specs []correlate.Spec
	var specCorr []int
	for si, sp := range rs.specs {
		if drop(si) {
			newIdx[si] = -1
			rs.corrSpec[rs.specCorr[si]] = -1
			continue
		}
		newIdx[si] = len(specs)
		specs = append(specs, sp)
		specCorr = append(specCorr, rs.specCorr[si])
	}
	for si := range specs {
		rules := append([]correlate.Ref(nil), specs[si].Rules...)
		for k, r := range rules {
			if r.Corr >= 0 {
				rules[k] = correlate.CorrRef(newIdx[r.Corr])
			}
		}
		specs[si].Rules = rules
		rs.corrSpec[specCorr[si]] = si
	}
	rs.specs, rs.specCorr = specs, specCorr
}

// Rules lists every loaded rule and correlation, rules first, in load order.
func (rs *Ruleset) Rules() []RuleInfo {
	return append([]RuleInfo(nil), rs.infos...)
}

// Len is the number of loaded rules and correlations.
func (rs *Ruleset) Len() int { return len(rs.infos) }

func (rs *Ruleset) buildIndex() *match.Index {
	rs.indexOnce.Do(func() {
		ir := make([]match.IndexRule, len(rs.rules))
		for i, r := range rs.rules {
			ir[i] = match.IndexRule{Logsource: r.ast.Logsource, Need: r.m.Need}
		}
		rs.index = match.NewIndex(ir)
	})
	return rs.index
}

// Without returns a new Ruleset without the rules and correlations whose id or name is in ids
// (a policy bundle's Disabled list). A correlation that referenced a removed rule is refused
// as on any load, with a problem saying so.
func (rs *Ruleset) Without(ids []string) (*Ruleset, []Problem) {
	if len(ids) == 0 {
		return rs, nil
	}
	off := make(map[string]bool, len(ids))
	for _, id := range ids {
		off[id] = true
	}
	var src []source
	for _, s := range rs.src {
		var m *sigma.Meta
		switch {
		case s.rule != nil:
			m = &s.rule.Meta
		case s.corr != nil:
			m = &s.corr.Meta
		}
		if m != nil && (off[m.ID] || (m.Name != "" && off[m.Name])) {
			continue
		}
		src = append(src, s)
	}
	return build(slices.Values(src))
}
