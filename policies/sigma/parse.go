package sigma

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// MaxFileSize is the largest rule file Parse accepts by default.
const MaxFileSize = 2 << 20

// Default limits on the values of a rule and of a file (see Limits).
const (
	DefaultMaxValuesPerDocument = 10000
	DefaultMaxValues            = 250000
)

// Limits bound what parsing one file may build. Zero fields take the defaults.
type Limits struct {
	// MaxFileBytes is the largest file (default MaxFileSize).
	MaxFileBytes int
	// MaxValuesPerDocument bounds the detection values of one document, each list element and
	// each reference to a YAML anchor counting once (default DefaultMaxValuesPerDocument).
	MaxValuesPerDocument int
	// MaxValues bounds them across the file (default DefaultMaxValues).
	MaxValues int
}

func (l Limits) withDefaults() Limits {
	l.MaxFileBytes = cmp.Or(l.MaxFileBytes, MaxFileSize)
	l.MaxValuesPerDocument = cmp.Or(l.MaxValuesPerDocument, DefaultMaxValuesPerDocument)
	l.MaxValues = cmp.Or(l.MaxValues, DefaultMaxValues)
	return l
}

// Parse parses one rule file that may hold several YAML documents, within the default Limits.
// It returns every document that loaded and one Error per refused document (plus warnings). A
// broken document does not stop the others.
func Parse(name string, data []byte) (*File, []Error) {
	return ParseLimited(name, data, Limits{})
}

// ParseLimited is Parse within lim: a file larger than lim.MaxFileBytes is refused whole, a
// document with more values than lim.MaxValuesPerDocument is refused, and once the file's values
// reach lim.MaxValues its remaining documents are refused, each naming the limit.
func ParseLimited(name string, data []byte, lim Limits) (*File, []Error) {
	lim = lim.withDefaults()
	f := &File{Name: name}
	if len(data) > lim.MaxFileBytes {
		return f, []Error{{File: name, Line: 1, Message: fmt.Sprintf("file is larger than the %d-byte limit for a rule file", lim.MaxFileBytes)}}
	}
	p := &parser{file: name, lim: lim}
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
	if node, err := fastYAML(data); err != errSlowPath {
		return node, err
	}
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
	lim  Limits
	// values counts the detection values of the file, docValues those of the current document.
	values, docValues int
}

// countValue charges one detection value (at n) to the limits.
func (p *parser) countValue(n *yaml.Node) *docError {
	p.values++
	p.docValues++
	switch {
	case p.docValues > p.lim.MaxValuesPerDocument:
		return fail(pos(n), "over the complexity budget: more than %d values in one rule (each list element and each reference to a YAML anchor counts)", p.lim.MaxValuesPerDocument)
	case p.values > p.lim.MaxValues:
		return fail(pos(n), "over the complexity budget: more than %d values in one file", p.lim.MaxValues)
	}
	return nil
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
	p.docValues = 0
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
		p.values -= p.docValues // a refused document charges nothing
	}
}
