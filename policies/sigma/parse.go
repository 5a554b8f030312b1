package sigma

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// MaxFileSize is the largest rule file Parse accepts.
const MaxFileSize = 8 << 20

// Parse parses one rule file that may hold several YAML documents. It returns every document that
// loaded and one Error per refused document (plus warnings). A broken document does not stop the
// others.
func Parse(name string, data []byte) (*File, []Error) {
	f := &File{Name: name}
	if len(data) > MaxFileSize {
		return f, []Error{{File: name, Line: 1, Message: fmt.Sprintf("file is %d bytes, larger than the %d-byte limit for a rule file", len(data), MaxFileSize)}}
	}
	p := &parser{file: name}
	type decoded struct {
		node *yaml.Node
		err  *Error
	}
	var docs []decoded
	for _, c := range splitDocuments(data) {
		node, err := decodeChunk(c.data)
		if err != nil {
			line, msg := yamlErrorLine(err)
			docs = append(docs, decoded{err: &Error{File: name, Line: line + c.line - 1, Message: "YAML: " + msg}})
			continue
		}
		if node == nil {
			continue
		}
		shiftLines(node, c.line-1)
		docs = append(docs, decoded{node: node})
	}
	// A legacy v1 collection (action: global|reset|repeat) refuses the whole file: its documents
	// only mean something merged together.
	for _, d := range docs {
		if d.node == nil || d.node.Kind != yaml.MappingNode {
			continue
		}
		if k, v := lookup(d.node, "action"); v != nil && v.Kind == yaml.ScalarNode {
			switch v.Value {
			case "global", "reset", "repeat":
				p.errAt(pos(k), "legacy Sigma v1 multi-document collection ('action: %s') is not supported: write each rule as a complete document", v.Value)
				return f, p.errs
			}
		}
	}
	for _, d := range docs {
		if d.err != nil {
			p.errs = append(p.errs, *d.err)
			continue
		}
		p.document(f, d.node)
	}
	return f, p.errs
}

type chunk struct {
	data []byte
	line int // 1-based line of the chunk's first line in the file
}

// splitDocuments cuts a multi-document YAML stream at "---" and "..." lines, so that a syntax
// error in one document does not hide the others.
func splitDocuments(data []byte) []chunk {
	var out []chunk
	start, startLine, line := 0, 1, 1
	for i := 0; i <= len(data); {
		end := bytes.IndexByte(data[i:], '\n')
		var ln []byte
		next := len(data) + 1
		if end < 0 {
			ln = data[i:]
		} else {
			ln = data[i : i+end]
			next = i + end + 1
		}
		t := strings.TrimRight(string(ln), " \t\r")
		if t == "---" || strings.HasPrefix(t, "--- ") || strings.HasPrefix(t, "---\t") || t == "..." {
			out = append(out, chunk{data[start:i], startLine})
			// Keep content after "--- " on the marker line (e.g. "--- !tag") out: Sigma does not use it.
			start, startLine = min(next, len(data)), line+1
		}
		i = next
		line++
	}
	if start < len(data) {
		out = append(out, chunk{data[start:], startLine})
	}
	return out
}

func decodeChunk(data []byte) (node *yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			node, err = nil, fmt.Errorf("YAML decoder failed: %v", r)
		}
	}()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): `)

func yamlErrorLine(err error) (int, string) {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		rest := strings.TrimPrefix(msg, m[0])
		// yaml.v3 numbers parser errors (unlike scanner errors) from 0, at the start of the
		// construct being parsed.
		if strings.HasPrefix(rest, "did not find expected") || strings.HasPrefix(rest, "found ") && !strings.HasPrefix(rest, "found character") {
			n++
		}
		return n, rest
	}
	return 1, strings.TrimPrefix(msg, "yaml: ")
}

func shiftLines(n *yaml.Node, by int) {
	if n == nil || by == 0 {
		return
	}
	seen := map[*yaml.Node]bool{}
	var walk func(*yaml.Node)
	walk = func(n *yaml.Node) {
		if n == nil || seen[n] {
			return
		}
		seen[n] = true
		n.Line += by
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
}

type parser struct {
	file string
	errs []Error
}

func (p *parser) errAt(at Pos, format string, args ...any) {
	p.errs = append(p.errs, Error{File: p.file, Line: at.Line, Column: at.Column, Message: fmt.Sprintf(format, args...)})
}

func (p *parser) warnAt(at Pos, format string, args ...any) {
	p.errs = append(p.errs, Error{File: p.file, Line: at.Line, Column: at.Column, Message: fmt.Sprintf(format, args...), Warning: true})
}

// docError aborts the current document.
type docError struct {
	at  Pos
	msg string
}

func (e *docError) Error() string { return e.msg }

func fail(at Pos, format string, args ...any) *docError {
	return &docError{at, fmt.Sprintf(format, args...)}
}

func pos(n *yaml.Node) Pos {
	if n == nil {
		return Pos{}
	}
	return Pos{n.Line, n.Column}
}

func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 16; i++ {
		n = n.Alias
	}
	return n
}

// lookup returns the key and value nodes of key k in mapping m.
func lookup(m *yaml.Node, k string) (*yaml.Node, *yaml.Node) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == k {
			return m.Content[i], deref(m.Content[i+1])
		}
	}
	return nil, nil
}

// checkDuplicates refuses duplicate keys anywhere in the document: PyYAML would silently keep
// the last one, so the rule would not mean what it says.
func checkDuplicates(n *yaml.Node, depth int) *docError {
	if n == nil || depth > 64 {
		return nil
	}
	if n.Kind == yaml.MappingNode {
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind == yaml.ScalarNode {
				if first, ok := seen[k.Value]; ok {
					return fail(pos(k), "duplicate key %q (first at line %d): YAML keys must be unique; use 'Field|contains|all: [a, b]' or separate identifiers", k.Value, first)
				}
				seen[k.Value] = k.Line
			}
		}
	}
	for _, c := range n.Content {
		if err := checkDuplicates(c, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) document(f *File, d *yaml.Node) {
	if d.Kind != yaml.MappingNode {
		p.errAt(pos(d), "document is not a mapping (a Sigma rule is a YAML mapping with title, logsource and detection)")
		return
	}
	if err := checkDuplicates(d, 0); err != nil {
		p.errAt(err.at, "%s", err.msg)
		return
	}
	var err *docError
	switch {
	case has(d, "correlation"):
		var c *Correlation
		c, err = p.correlation(d)
		if err == nil {
			f.Correlations = append(f.Correlations, c)
		}
	case has(d, "filter"):
		var fl *Filter
		fl, err = p.filter(d)
		if err == nil {
			f.Filters = append(f.Filters, fl)
		}
	case has(d, "detection"):
		var r *Rule
		r, err = p.rule(d)
		if err == nil {
			f.Rules = append(f.Rules, r)
		}
	default:
		err = fail(pos(d), "document has no 'detection', 'correlation' or 'filter' key")
		if k, _ := lookup(d, "condition"); k != nil {
			err = fail(pos(k), "'condition' must be inside 'detection'")
		}
	}
	if err != nil {
		p.errAt(err.at, "%s", err.msg)
	}
}

func has(m *yaml.Node, k string) bool {
	key, _ := lookup(m, k)
	return key != nil
}

func scalarText(n *yaml.Node) (string, bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		return "", false
	}
	if n.ShortTag() == "!!null" {
		return "", true
	}
	return n.Value, true
}

// stringList accepts a list of scalars or a single scalar (lenient metadata).
func stringList(n *yaml.Node) []string {
	n = deref(n)
	if n == nil {
		return nil
	}
	if s, ok := scalarText(n); ok {
		if s == "" {
			return nil
		}
		return []string{s}
	}
	if n.Kind != yaml.SequenceNode {
		return nil
	}
	var out []string
	for _, c := range n.Content {
		if s, ok := scalarText(c); ok && s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (p *parser) meta(d *yaml.Node, structural map[string]bool) Meta {
	var m Meta
	for i := 0; i+1 < len(d.Content); i += 2 {
		k, v := d.Content[i].Value, deref(d.Content[i+1])
		s, _ := scalarText(v)
		switch k {
		case "title":
			m.Title = s
		case "id":
			m.ID = s
		case "name":
			m.Name = s
		case "status":
			m.Status = s
		case "description":
			m.Description = s
		case "author":
			m.Author = s
		case "license":
			m.License = s
		case "date":
			m.Date = s
		case "modified":
			m.Modified = s
		case "level":
			m.Level = s
		case "taxonomy":
			m.Taxonomy = s
		case "references":
			m.References = stringList(v)
		case "tags":
			m.Tags = stringList(v)
		case "falsepositives":
			m.FalsePositives = stringList(v)
		case "fields":
			m.Fields = stringList(v)
		case "related":
			if v != nil && v.Kind == yaml.SequenceNode {
				for _, r := range v.Content {
					_, id := lookup(r, "id")
					_, ty := lookup(r, "type")
					ids, _ := scalarText(id)
					tys, _ := scalarText(ty)
					m.Related = append(m.Related, Related{ids, tys})
				}
			}
		default:
			if structural[k] {
				continue
			}
			if m.Custom == nil {
				m.Custom = map[string]string{}
			}
			m.Custom[k] = s
		}
	}
	if len(m.Title) > 256 {
		k, _ := lookup(d, "title")
		p.warnAt(pos(k), "title is %d characters, longer than Sigma's 256", len(m.Title))
	}
	return m
}

func (p *parser) logsource(d *yaml.Node, required bool) (Logsource, *docError) {
	var ls Logsource
	k, v := lookup(d, "logsource")
	if k == nil {
		if required {
			return ls, fail(pos(d), "missing 'logsource'")
		}
		return ls, nil
	}
	if v == nil || v.Kind != yaml.MappingNode {
		return ls, fail(pos(k), "'logsource' must be a mapping of category, product, service")
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		key := v.Content[i].Value
		s, ok := scalarText(v.Content[i+1])
		if !ok {
			return ls, fail(pos(v.Content[i]), "logsource %s must be a scalar", key)
		}
		switch key {
		case "category":
			ls.Category = strings.ToLower(s)
		case "product":
			ls.Product = strings.ToLower(s)
		case "service":
			ls.Service = strings.ToLower(s)
		case "definition":
			ls.Definition = s
		}
	}
	return ls, nil
}

var ruleStructural = map[string]bool{"logsource": true, "detection": true}

func (p *parser) rule(d *yaml.Node) (*Rule, *docError) {
	r := &Rule{File: p.file, Pos: pos(d)}
	r.Meta = p.meta(d, ruleStructural)
	if r.Title == "" {
		return nil, fail(pos(d), "missing 'title'")
	}
	ls, err := p.logsource(d, true)
	if err != nil {
		return nil, err
	}
	r.Logsource = ls
	k, v := lookup(d, "detection")
	det, err := p.detection(k, v, nil)
	if err != nil {
		return nil, err
	}
	r.Detection = *det
	return r, nil
}

var identRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// detection parses a detection (or filter) mapping; skip names keys that are not identifiers.
func (p *parser) detection(k, v *yaml.Node, skip map[string]bool) (*Detection, *docError) {
	if v == nil || v.Kind != yaml.MappingNode {
		return nil, fail(pos(k), "'%s' must be a mapping of search identifiers and a condition", k.Value)
	}
	det := &Detection{Searches: map[string]*Search{}}
	var condKey, condVal *yaml.Node
	for i := 0; i+1 < len(v.Content); i += 2 {
		key, val := v.Content[i], deref(v.Content[i+1])
		name := key.Value
		switch {
		case skip[name]:
			continue
		case name == "condition":
			condKey, condVal = key, val
			continue
		case name == "timeframe":
			return nil, fail(pos(key), "legacy Sigma v1 'timeframe' inside detection is not supported (write a correlation rule with 'timespan')")
		case !identRE.MatchString(name):
			return nil, fail(pos(key), "invalid search identifier %q (use letters, digits, '_' and '-')", name)
		}
		s, err := p.search(name, key, val)
		if err != nil {
			return nil, err
		}
		det.Searches[name] = s
		det.Order = append(det.Order, name)
	}
	if condKey == nil {
		return nil, fail(pos(k), "missing 'condition' in '%s'", k.Value)
	}
	if len(det.Searches) == 0 {
		return nil, fail(pos(k), "'%s' defines no search identifier", k.Value)
	}
	ids := map[string]bool{}
	for n := range det.Searches {
		ids[n] = true
	}
	var conds []*yaml.Node
	switch condVal.Kind {
	case yaml.ScalarNode:
		conds = []*yaml.Node{condVal}
	case yaml.SequenceNode:
		conds = condVal.Content
		if len(conds) == 0 {
			return nil, fail(pos(condKey), "empty condition list")
		}
	default:
		return nil, fail(pos(condKey), "'condition' must be a string or a list of strings")
	}
	var alts []Cond
	var texts []string
	var warns []string
	for _, cn := range conds {
		cn = deref(cn)
		if cn == nil || cn.Kind != yaml.ScalarNode || cn.ShortTag() == "!!null" {
			return nil, fail(pos(condKey), "condition must be a string")
		}
		c, w, err := parseCondition(cn.Value, ids)
		if err != nil {
			var ce *condError
			at := pos(cn)
			if errors.As(err, &ce) {
				at = condPos(cn, ce.off)
			}
			return nil, fail(at, "condition %q: %s", strings.TrimSpace(cn.Value), err.Error())
		}
		warns = append(warns, w...)
		texts = append(texts, strings.TrimSpace(cn.Value))
		if c != nil {
			alts = append(alts, c)
		}
	}
	for _, w := range warns {
		p.warnAt(pos(condVal), "%s", w)
	}
	det.ConditionText = strings.Join(texts, " | or | ")
	det.ConditionPos = pos(condVal)
	det.Condition = combine(alts, func(a []Cond) Cond { return &Or{a} })
	if det.Condition == nil {
		return nil, fail(pos(condVal), "condition %q reduces to nothing: every term names a pattern that matches no identifier", det.ConditionText)
	}
	return det, nil
}

// condPos maps a byte offset of a condition scalar to a file position.
func condPos(n *yaml.Node, off int) Pos {
	v := n.Value
	if off > len(v) {
		off = len(v)
	}
	nl := strings.Count(v[:off], "\n")
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		col := off - strings.LastIndexByte(v[:off], '\n')
		return Pos{n.Line + nl + 1, n.Column + col}
	}
	if nl > 0 {
		return Pos{n.Line + nl, 0}
	}
	col := n.Column + off
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
		col++
	}
	return Pos{n.Line, col}
}

func (p *parser) search(name string, key, v *yaml.Node) (*Search, *docError) {
	s := &Search{Name: name, Pos: pos(key)}
	if v == nil {
		return nil, fail(pos(key), "search identifier %q has no value", name)
	}
	switch v.Kind {
	case yaml.MappingNode:
		items, err := p.itemsOfMap(name, v)
		if err != nil {
			return nil, err
		}
		s.Any = [][]*Item{items}
	case yaml.SequenceNode:
		if len(v.Content) == 0 {
			return nil, fail(pos(key), "search identifier %q is an empty list", name)
		}
		var kw *Item
		for _, e := range v.Content {
			e = deref(e)
			switch e.Kind {
			case yaml.MappingNode:
				items, err := p.itemsOfMap(name, e)
				if err != nil {
					return nil, err
				}
				s.Any = append(s.Any, items)
			case yaml.ScalarNode:
				val := scalarValue(e)
				if kw == nil {
					kw = &Item{Keyword: true, List: true, Pos: pos(e)}
				}
				kw.Values = append(kw.Values, val)
			default:
				return nil, fail(pos(e), "search identifier %q: a list may hold mappings or keyword scalars, not nested lists", name)
			}
		}
		if kw != nil {
			if _, msg := checkModifiers(kw); msg != "" {
				return nil, fail(kw.Pos, "search identifier %q: %s", name, msg)
			}
			if len(s.Any) == 0 {
				s.Any = [][]*Item{{kw}}
			} else {
				// Keywords mixed into a list of maps are alternatives of their own [pySigma].
				for _, val := range kw.Values {
					s.Any = append(s.Any, []*Item{{Keyword: true, Values: []Value{val}, Pos: val.Pos}})
				}
			}
		}
	case yaml.ScalarNode:
		val := scalarValue(v)
		if val.Kind == Null {
			return nil, fail(pos(key), "search identifier %q has no value", name)
		}
		s.Any = [][]*Item{{{Keyword: true, Values: []Value{val}, Pos: pos(v)}}}
	default:
		return nil, fail(pos(key), "search identifier %q has an unsupported value", name)
	}
	return s, nil
}

func scalarValue(n *yaml.Node) Value {
	v := Value{Text: n.Value, Pos: pos(n), Quoted: n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0}
	switch n.ShortTag() {
	case "!!int":
		v.Kind = Int
	case "!!float":
		v.Kind = Float
	case "!!bool":
		v.Kind = Bool
	case "!!null":
		v.Kind = Null
	}
	return v
}

func (p *parser) itemsOfMap(name string, m *yaml.Node) ([]*Item, *docError) {
	if len(m.Content) == 0 {
		return nil, fail(pos(m), "search identifier %q is an empty mapping", name)
	}
	var items []*Item
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], deref(m.Content[i+1])
		parts := strings.Split(k.Value, "|")
		it := &Item{Field: parts[0], Modifiers: parts[1:], Pos: pos(k)}
		it.Keyword = it.Field == ""
		switch v.Kind {
		case yaml.ScalarNode:
			it.Values = []Value{scalarValue(v)}
		case yaml.SequenceNode:
			if len(v.Content) == 0 {
				// Field: [] means null [pySigma].
				it.Values = []Value{{Kind: Null, Pos: pos(v)}}
				break
			}
			it.List = true
			for _, e := range v.Content {
				e = deref(e)
				if e.Kind != yaml.ScalarNode {
					return nil, fail(pos(e), "search identifier %q: field %s: list elements must be scalars", name, quoteKey(it))
				}
				it.Values = append(it.Values, scalarValue(e))
			}
		case yaml.MappingNode:
			return nil, fail(pos(k), "search identifier %q: field %s: value is a mapping (nested mappings are not Sigma; is the indentation wrong?)", name, quoteKey(it))
		default:
			return nil, fail(pos(k), "search identifier %q: field %s: unsupported value", name, quoteKey(it))
		}
		w, msg := checkModifiers(it)
		if msg != "" {
			return nil, fail(pos(k), "search identifier %q: %s", name, msg)
		}
		for _, x := range w {
			p.warnAt(pos(k), "search identifier %q: %s", name, x)
		}
		items = append(items, it)
	}
	return items, nil
}

var corrKeys = map[string]bool{"type": true, "rules": true, "aliases": true, "group-by": true, "timespan": true, "condition": true, "generate": true}

var corrTypes = map[string]bool{EventCount: true, ValueCount: true, Temporal: true, TemporalOrdered: true, ValueSum: true, ValueAvg: true, ValuePercentile: true, ValueMedian: true}

var timespanRE = regexp.MustCompile(`^([0-9]+)([smhdwMy])$`)

// ParseTimespan parses a correlation timespan: an integer and one of s, m, h, d, w, M (30.44
// days) or y (365.25 days).
func ParseTimespan(s string) (time.Duration, error) {
	m := timespanRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("timespan %q: want an integer followed by s, m, h, d, w, M or y (e.g. 5m)", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("timespan %q: the number must be a positive integer", s)
	}
	unit := map[string]time.Duration{
		"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour,
		"M": time.Duration(30.44 * 24 * float64(time.Hour)), "y": time.Duration(365.25 * 24 * float64(time.Hour)),
	}[m[2]]
	if n > int64((100*365*24*time.Hour)/unit) {
		return 0, fmt.Errorf("timespan %q is longer than 100 years", s)
	}
	return time.Duration(n) * unit, nil
}

func (p *parser) correlation(d *yaml.Node) (*Correlation, *docError) {
	c := &Correlation{File: p.file, Pos: pos(d)}
	c.Meta = p.meta(d, map[string]bool{"correlation": true, "generate": true})
	ck, cv := lookup(d, "correlation")
	if cv == nil || cv.Kind != yaml.MappingNode {
		return nil, fail(pos(ck), "'correlation' must be a mapping with type, rules, group-by, timespan and condition")
	}
	for i := 0; i+1 < len(cv.Content); i += 2 {
		if k := cv.Content[i]; !corrKeys[k.Value] {
			return nil, fail(pos(k), "unknown key %q in 'correlation'", k.Value)
		}
	}
	misplaced := func(key string) string {
		if k, _ := lookup(d, key); k != nil {
			return fmt.Sprintf(" (a top-level '%s' was found at line %d: it belongs inside 'correlation:')", key, k.Line)
		}
		return ""
	}
	tk, tv := lookup(cv, "type")
	if tk == nil {
		return nil, fail(pos(ck), "correlation: missing 'type'%s", misplaced("type"))
	}
	c.Type, _ = scalarText(tv)
	if !corrTypes[c.Type] {
		return nil, fail(pos(tv), "correlation: unknown type %q (want event_count, value_count, temporal, temporal_ordered, value_sum, value_avg, value_percentile or value_median)", c.Type)
	}
	rk, rv := lookup(cv, "rules")
	if rk == nil {
		return nil, fail(pos(ck), "correlation: missing 'rules'%s", misplaced("rules"))
	}
	c.Rules = stringList(rv)
	if len(c.Rules) == 0 {
		return nil, fail(pos(rk), "correlation: 'rules' must list at least one rule id or name")
	}
	sk, sv := lookup(cv, "timespan")
	if sk == nil {
		return nil, fail(pos(ck), "correlation: missing 'timespan'%s", misplaced("timespan"))
	}
	c.TimespanText, _ = scalarText(sv)
	ts, err := ParseTimespan(c.TimespanText)
	if err != nil {
		return nil, fail(pos(sv), "correlation: %v", err)
	}
	c.Timespan = ts
	if gk, gv := lookup(cv, "group-by"); gk != nil {
		if gv != nil && gv.Kind == yaml.MappingNode {
			return nil, fail(pos(gk), "correlation: 'group-by' must be a list of field names")
		}
		c.GroupBy = stringList(gv)
	} else if m := misplaced("group-by"); m != "" {
		return nil, fail(pos(ck), "correlation: 'group-by'%s", m)
	}
	if ak, av := lookup(cv, "aliases"); ak != nil {
		if av == nil || av.Kind != yaml.MappingNode {
			return nil, fail(pos(ak), "correlation: 'aliases' must map each alias to {rule: field}")
		}
		c.Aliases = map[string]map[string]string{}
		for i := 0; i+1 < len(av.Content); i += 2 {
			name, m := av.Content[i].Value, deref(av.Content[i+1])
			if m == nil || m.Kind != yaml.MappingNode {
				return nil, fail(pos(av.Content[i]), "correlation: alias %q must map rule names to field names", name)
			}
			c.Aliases[name] = map[string]string{}
			for j := 0; j+1 < len(m.Content); j += 2 {
				f, ok := scalarText(m.Content[j+1])
				if !ok || f == "" {
					return nil, fail(pos(m.Content[j]), "correlation: alias %q: field for %q must be a field name", name, m.Content[j].Value)
				}
				c.Aliases[name][m.Content[j].Value] = f
			}
		}
	}
	condK, condV := lookup(cv, "condition")
	if condK != nil {
		if condV == nil || condV.Kind != yaml.MappingNode {
			return nil, fail(pos(condK), "correlation: 'condition' must be a mapping such as {gte: 10} (boolean expressions over rule names are not supported)")
		}
		for i := 0; i+1 < len(condV.Content); i += 2 {
			k, v := condV.Content[i], deref(condV.Content[i+1])
			switch k.Value {
			case "gt", "gte", "lt", "lte", "eq", "neq":
				s, _ := scalarText(v)
				f, err := strconv.ParseFloat(s, 64)
				if err != nil {
					return nil, fail(pos(v), "correlation: condition %s: %q is not a number", k.Value, s)
				}
				c.Ops = append(c.Ops, CondOp{k.Value, f})
			case "field":
				c.Fields = stringList(v)
				if len(c.Fields) == 0 {
					return nil, fail(pos(k), "correlation: condition field must name a field")
				}
			default:
				return nil, fail(pos(k), "correlation: unknown condition key %q (want gt, gte, lt, lte, eq, neq or field)", k.Value)
			}
		}
	}
	switch c.Type {
	case Temporal, TemporalOrdered:
		if len(c.Fields) > 0 {
			return nil, fail(pos(condK), "correlation: %s takes no condition field", c.Type)
		}
	default:
		if len(c.Ops) == 0 {
			return nil, fail(pos(ck), "correlation: %s needs a condition such as {gte: 10}", c.Type)
		}
		if c.Type == EventCount && len(c.Fields) > 0 {
			return nil, fail(pos(condK), "correlation: event_count takes no condition field")
		}
		if c.Type != EventCount && len(c.Fields) == 0 {
			return nil, fail(pos(condK), "correlation: %s needs a condition field", c.Type)
		}
		if c.Type != EventCount && c.Type != ValueCount && len(c.Fields) > 1 {
			return nil, fail(pos(condK), "correlation: %s takes one condition field", c.Type)
		}
	}
	gen := false
	for _, m := range []*yaml.Node{d, cv} {
		if gk, gv := lookup(m, "generate"); gk != nil {
			s, _ := scalarText(gv)
			if gv.ShortTag() != "!!bool" {
				return nil, fail(pos(gk), "correlation: 'generate' must be true or false, not %q", s)
			}
			gen = gen || strings.EqualFold(s, "true")
		}
	}
	c.Generate = gen
	if c.Title == "" {
		p.warnAt(pos(d), "correlation has no 'title'")
	}
	return c, nil
}

func (p *parser) filter(d *yaml.Node) (*Filter, *docError) {
	fl := &Filter{File: p.file, Pos: pos(d)}
	fl.Meta = p.meta(d, map[string]bool{"logsource": true, "filter": true})
	if fl.Title == "" {
		return nil, fail(pos(d), "missing 'title'")
	}
	ls, err := p.logsource(d, false)
	if err != nil {
		return nil, err
	}
	fl.Logsource = ls
	k, v := lookup(d, "filter")
	if v == nil || v.Kind != yaml.MappingNode {
		return nil, fail(pos(k), "'filter' must be a mapping with rules, search identifiers and a condition")
	}
	rk, rv := lookup(v, "rules")
	if rk == nil {
		return nil, fail(pos(k), "filter: missing 'rules' (the ids or names of the rules it applies to)")
	}
	fl.Rules = stringList(rv)
	if len(fl.Rules) == 0 {
		return nil, fail(pos(rk), "filter: 'rules' must list at least one rule id or name")
	}
	det, err := p.detection(k, v, map[string]bool{"rules": true})
	if err != nil {
		return nil, err
	}
	fl.Detection = *det
	return fl, nil
}
