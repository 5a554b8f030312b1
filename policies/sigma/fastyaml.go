package sigma

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// A fast path for the YAML that rule files are made of. Parsing YAML is most of the cost of
// loading rules (the whole SigmaHQ corpus is 4,400 files), and yaml.v3 builds its node tree
// through a general scanner, parser and event stream. fastYAML reads the common subset of block
// YAML directly into the same yaml.Node tree: block mappings and sequences (also a sequence at
// its key's indentation, and a mapping started on a "- " line), plain, single- and
// double-quoted scalars on one line (plain ones may continue on more indented lines), literal
// and folded block scalars without indentation indicators, one-line flow sequences and
// mappings, and comments. Anything else (anchors, aliases, tags, explicit keys, multi-line flow
// or quoted scalars, tabs, CR line ends, a scalar document...) returns errSlowPath, and the
// caller parses the chunk with yaml.v3: the fast path never decides an error or a meaning of its
// own. TestFastYAMLMatchesYAMLv3 compares the two trees over every rule file of the corpus and
// FuzzFastYAML on arbitrary input (positions, tags and styles included; comments are not kept).

var errSlowPath = errors.New("yaml: not in the fast path's subset")

type fyLine struct {
	num    int    // 1-based line number
	indent int    // leading spaces
	text   string // the line after its indentation
	ascii  bool   // the line is ASCII: a byte offset is a column offset
}

// maxFastDepth bounds the nesting the fast path follows (yaml.v3 allows 10,000).
const maxFastDepth = 64

type fyParser struct {
	lines []fyLine
	i     int
	depth int // block collections being parsed
	// odd marks the line numbers that hold a comment or only spaces: content inside a block
	// scalar, which the fast path leaves to yaml.v3.
	odd     map[int]bool
	maxLine int
	finalNL bool // the document ends with a line break
}

// fastYAML parses one YAML document (no "---" inside) or returns errSlowPath. It returns nil for
// a document with no content.
func fastYAML(data []byte) (*yaml.Node, error) {
	if len(data) > 0 && data[0] == 0xEF || !utf8.Valid(data) {
		return nil, errSlowPath // a byte-order mark, or bytes yaml.v3 decides about
	}
	s := string(data)
	for _, r := range s {
		// YAML's printable characters, less tab and CR, the other line breaks (U+0085, U+2028,
		// U+2029) and the byte-order mark (all left to yaml.v3).
		if !(r == '\n' || r >= 0x20 && r <= 0x7E || r >= 0xA0 && r <= 0xD7FF && r != 0x2028 && r != 0x2029 ||
			r >= 0xE000 && r <= 0xFFFD && r != 0xFEFF || r >= 0x10000) {
			return nil, errSlowPath
		}
	}
	p := &fyParser{odd: map[int]bool{}}
	for num := 1; len(s) > 0 || num == 1; num++ {
		line, rest, _ := strings.Cut(s, "\n")
		s = rest
		trimmed := strings.TrimLeft(line, " ")
		if trimmed == "" || trimmed[0] == '#' {
			if line != "" {
				p.odd[num] = true
			}
			if len(s) == 0 {
				break
			}
			continue
		}
		if strings.HasPrefix(line, "---") || strings.HasPrefix(line, "...") || trimmed[0] == '%' {
			return nil, errSlowPath
		}
		ascii := true
		for i := 0; i < len(trimmed); i++ {
			if trimmed[i] >= utf8.RuneSelf {
				ascii = false
				break
			}
		}
		if !ascii && len(trimmed) > 1024 {
			return nil, errSlowPath // columns would cost a count per node
		}
		p.lines = append(p.lines, fyLine{num: num, indent: len(line) - len(trimmed), text: trimmed, ascii: ascii})
		if len(s) == 0 {
			break
		}
	}
	p.maxLine = strings.Count(string(data), "\n") + 1
	p.finalNL = len(data) > 0 && data[len(data)-1] == '\n'
	if len(p.lines) == 0 {
		return nil, nil
	}
	if p.lines[0].indent != 0 || !isKeyLine(p.lines[0].text) {
		return nil, errSlowPath
	}
	n, err := p.mapping(0)
	if err != nil {
		return nil, err
	}
	if p.i != len(p.lines) {
		return nil, errSlowPath
	}
	return n, nil
}

// isKeyLine reports whether a line starts a "key: value" entry the fast path understands.
func isKeyLine(t string) bool {
	_, _, ok := splitKey(t)
	return ok
}

// splitKey cuts "key: rest" (or "key:" at the end of the line); quoted keys are kept with
// their quotes. It refuses keys starting with an indicator.
func splitKey(t string) (key, rest string, ok bool) {
	if t == "" {
		return "", "", false
	}
	switch t[0] {
	case '\'', '"':
		end := quotedEnd(t)
		if end < 0 || end >= len(t) || t[end] != ':' || end+1 < len(t) && t[end+1] != ' ' {
			return "", "", false
		}
		return t[:end], strings.TrimLeft(t[end+1:], " "), true
	case '-', '?', ':', '[', ']', '{', '}', ',', '#', '&', '*', '!', '|', '>', '%', '@', '`':
		return "", "", false
	}
	for i := 0; i < len(t); i++ {
		if t[i] == ':' && (i+1 == len(t) || t[i+1] == ' ') {
			key := strings.TrimRight(t[:i], " ")
			if strings.Contains(key, " #") {
				return "", "", false
			}
			return key, strings.TrimLeft(t[i+1:], " "), true
		}
	}
	return "", "", false
}

// quotedEnd returns the index just past the closing quote of the quoted scalar starting t, or -1.
func quotedEnd(t string) int {
	q := t[0]
	for i := 1; i < len(t); i++ {
		switch {
		case q == '\'' && t[i] == '\'':
			if i+1 < len(t) && t[i+1] == '\'' {
				i++
				continue
			}
			return i + 1
		case q == '"' && t[i] == '\\':
			i++
		case q == '"' && t[i] == '"':
			return i + 1
		}
	}
	return -1
}

// col is the 1-based column (in characters, as yaml.v3 counts) of byte offset off of a line.
func col(l fyLine, off int) int {
	if l.ascii {
		return l.indent + off + 1
	}
	return l.indent + utf8.RuneCountInString(l.text[:off]) + 1
}

// mapping parses a block mapping whose keys sit at indent.
func (p *fyParser) mapping(indent int) (*yaml.Node, error) {
	if p.depth++; p.depth > maxFastDepth {
		return nil, errSlowPath
	}
	defer func() { p.depth-- }()
	first := p.lines[p.i]
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: first.num, Column: first.indent + 1}
	for p.i < len(p.lines) {
		l := p.lines[p.i]
		if l.indent < indent {
			break
		}
		if l.indent > indent {
			return nil, errSlowPath
		}
		key, rest, ok := splitKey(l.text)
		if !ok {
			return nil, errSlowPath
		}
		if key == "<<" || len(key) > 1000 {
			return nil, errSlowPath // a merge key, or one near YAML's 1024-character limit
		}
		kn, err := scalar(key, l, 0)
		if err != nil {
			return nil, err
		}
		p.i++
		vn, err := p.value(rest, l, len(l.text)-len(rest), indent)
		if err != nil {
			return nil, err
		}
		m.Content = append(m.Content, kn, vn)
	}
	return m, nil
}

// value parses what follows "key:" or "- " on line l (rest, at byte offset off of l.text): an
// inline value, or a block node on the next lines, deeper than parent (a sequence may also sit
// at the parent mapping's indentation).
func (p *fyParser) value(rest string, l fyLine, off, parent int) (*yaml.Node, error) {
	if rest == "" || rest[0] == '#' {
		if p.i < len(p.lines) {
			next := p.lines[p.i]
			switch {
			case next.indent > parent && isSeqLine(next.text):
				return p.sequence(next.indent)
			case next.indent == parent && isSeqLine(next.text):
				return p.sequence(parent)
			case next.indent > parent && isKeyLine(next.text):
				return p.mapping(next.indent)
			case next.indent > parent:
				return nil, errSlowPath
			}
		}
		return nil, errSlowPath // an empty (null) value: rare, left to yaml.v3
	}
	switch rest[0] {
	case '|', '>':
		return p.blockScalar(rest, l, off, parent)
	case '[', '{':
		n, end, err := flow(rest, l, off, 0)
		if err != nil {
			return nil, err
		}
		if tail := strings.TrimLeft(rest[end:], " "); tail != "" && tail[0] != '#' {
			return nil, errSlowPath
		}
		return n, nil
	case '\'', '"':
		end := quotedEnd(rest)
		if end < 0 {
			return nil, errSlowPath
		}
		if tail := strings.TrimLeft(rest[end:], " "); tail != "" && (tail[0] != '#' || len(rest[end:]) == len(tail)) {
			return nil, errSlowPath
		}
		return scalar(rest[:end], l, off)
	case '&', '*', '!', '%', '@', '`', '?', ']', '}', ',', ':', '#':
		return nil, errSlowPath
	case '-':
		if rest == "-" || strings.HasPrefix(rest, "- ") {
			return nil, errSlowPath
		}
	}
	if _, _, isKey := splitKey(rest); isKey || strings.Contains(rest, ": ") || strings.HasSuffix(rest, ":") {
		return nil, errSlowPath // "a: b: c"
	}
	text := rest
	commented := false
	if i := strings.Index(text, " #"); i >= 0 {
		text, commented = text[:i], true
	}
	text = strings.TrimRight(text, " ")
	n := &yaml.Node{Kind: yaml.ScalarNode, Line: l.num, Column: col(l, off)}
	// Continuation lines of a plain scalar: the next lines, more indented than the parent,
	// folded with single spaces.
	last := l.num
	for p.i < len(p.lines) && p.lines[p.i].indent > parent {
		c := p.lines[p.i].text
		if commented || p.lines[p.i].num != last+1 || strings.Contains(c, ": ") || strings.HasSuffix(c, ":") ||
			strings.Contains(c, " #") || strings.ContainsAny(c[:1], "-#[]{}'\"|>&*!%@`?,:") {
			return nil, errSlowPath
		}
		text += " " + strings.TrimRight(c, " ")
		last = p.lines[p.i].num
		p.i++
	}
	n.Value = text
	return resolved(n)
}

// isSeqLine reports whether a line is a "- item" entry.
func isSeqLine(t string) bool { return t == "-" || strings.HasPrefix(t, "- ") }

// sequence parses a block sequence whose dashes sit at indent.
func (p *fyParser) sequence(indent int) (*yaml.Node, error) {
	if p.depth++; p.depth > maxFastDepth {
		return nil, errSlowPath
	}
	defer func() { p.depth-- }()
	first := p.lines[p.i]
	sq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: first.num, Column: first.indent + 1}
	for p.i < len(p.lines) {
		l := p.lines[p.i]
		if l.indent < indent || l.indent == indent && !isSeqLine(l.text) {
			break
		}
		if l.indent > indent {
			return nil, errSlowPath
		}
		rest := strings.TrimLeft(l.text[1:], " ")
		off := len(l.text) - len(rest)
		if rest == "" || rest[0] == '#' {
			return nil, errSlowPath // an empty item, or one on the next lines
		}
		if _, _, isKey := splitKey(rest); isKey {
			// "- key: value": a mapping whose keys sit at the column of this first key.
			p.lines[p.i] = fyLine{num: l.num, indent: l.indent + off, text: rest}
			m, err := p.mapping(l.indent + off)
			if err != nil {
				return nil, err
			}
			sq.Content = append(sq.Content, m)
			continue
		}
		p.i++
		v, err := p.value(rest, l, off, indent)
		if err != nil {
			return nil, err
		}
		sq.Content = append(sq.Content, v)
	}
	return sq, nil
}

// blockScalar parses a literal (|) or folded (>) block scalar, with strip (-) or clip chomping.
func (p *fyParser) blockScalar(rest string, l fyLine, off, parent int) (*yaml.Node, error) {
	header := rest
	if i := strings.Index(header, " #"); i >= 0 {
		header = header[:i]
	}
	header = strings.TrimRight(header, " ")
	if header != "|" && header != "|-" && header != ">" && header != ">-" {
		return nil, errSlowPath
	}
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Line: l.num, Column: col(l, off), Style: yaml.LiteralStyle}
	if header[0] == '>' {
		n.Style = yaml.FoldedStyle
	}
	// Content lines: the following lines more indented than the parent, blank ones included
	// (p.lines holds no blank lines, so their count is read from the line numbers).
	var parts []string
	indent := -1
	prev := l.num
	for p.i < len(p.lines) && p.lines[p.i].indent > parent {
		c := p.lines[p.i]
		if indent < 0 {
			indent = c.indent
		}
		if c.indent != indent {
			return nil, errSlowPath // more indentation inside the block: left to yaml.v3
		}
		for blank := prev + 1; blank < c.num; blank++ {
			if len(parts) == 0 {
				return nil, errSlowPath // leading blank lines
			}
			parts = append(parts, "")
		}
		parts = append(parts, c.text)
		prev = c.num
		p.i++
	}
	if len(parts) == 0 {
		return nil, errSlowPath
	}
	// Comment lines and lines of spaces inside or right after the block are its content
	// (p.lines dropped them).
	end := p.maxLine + 1
	if p.i < len(p.lines) {
		end = p.lines[p.i].num
	}
	for num := l.num + 1; num < end; num++ {
		if p.odd[num] {
			return nil, errSlowPath
		}
	}
	// The value lives as long as the rule (descriptions are most of it): sized once, as the
	// builder's doubling would keep up to twice its length.
	var b strings.Builder
	size := len(parts) // a line break or space between parts, and the final one
	for _, x := range parts {
		size += len(x)
	}
	b.Grow(size)
	if header[0] == '|' {
		for i, x := range parts {
			if i > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(x)
		}
	} else {
		for i, x := range parts {
			switch {
			case i == 0:
			case x == "" || parts[i-1] == "":
				if x == "" {
					b.WriteByte('\n')
					continue
				}
			default:
				b.WriteByte(' ')
			}
			b.WriteString(x)
		}
	}
	// Clip keeps the last line break, when the document has one after the block.
	if !strings.HasSuffix(header, "-") && (prev < p.maxLine || p.finalNL) {
		b.WriteByte('\n')
	}
	n.Value = b.String()
	return n, nil
}

// flow parses a one-line flow sequence or mapping at the start of t (at byte offset off of line
// l) and returns it and the byte length it took.
func flow(t string, l fyLine, off, depth int) (*yaml.Node, int, error) {
	if depth > maxFastDepth {
		return nil, 0, errSlowPath
	}
	n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle, Line: l.num, Column: col(l, off)}
	closer := byte(']')
	if t[0] == '{' {
		n.Kind, n.Tag, closer = yaml.MappingNode, "!!map", '}'
	}
	i := 1
	skip := func() {
		for i < len(t) && t[i] == ' ' {
			i++
		}
	}
	skip()
	if i < len(t) && t[i] == closer {
		return n, i + 1, nil
	}
	item := func() (*yaml.Node, error) {
		skip()
		if i >= len(t) {
			return nil, errSlowPath
		}
		switch t[i] {
		case '[', '{':
			sub, used, err := flow(t[i:], l, off+i, depth+1)
			i += used
			return sub, err
		case '\'', '"':
			end := quotedEnd(t[i:])
			if end < 0 {
				return nil, errSlowPath
			}
			sn, err := scalar(t[i:i+end], l, off+i)
			i += end
			return sn, err
		case ',', ']', '}', ':', '#', '&', '*', '!', '|', '>', '%', '@', '`', '?', '-':
			if t[i] != '-' || i+1 < len(t) && t[i+1] == ' ' {
				return nil, errSlowPath
			}
		}
		start := i
		for i < len(t) && !strings.ContainsRune(",[]{}#", rune(t[i])) && !(t[i] == ':' && (i+1 == len(t) || t[i+1] == ' ')) {
			i++
		}
		text := strings.TrimRight(t[start:i], " ")
		// Plain scalars in flow context follow stricter rules: the fast path takes only those
		// without indicator characters.
		if text == "" || strings.ContainsAny(text, "?:#&*!|>'\"%@`") {
			return nil, errSlowPath
		}
		return scalar(text, l, off+start)
	}
	for {
		k, err := item()
		if err != nil {
			return nil, 0, err
		}
		skip()
		if n.Kind == yaml.MappingNode {
			if i >= len(t) || t[i] != ':' {
				return nil, 0, errSlowPath
			}
			i++
			v, err := item()
			if err != nil {
				return nil, 0, err
			}
			n.Content = append(n.Content, k, v)
		} else {
			if i < len(t) && t[i] == ':' {
				return nil, 0, errSlowPath // an implicit mapping inside a sequence
			}
			n.Content = append(n.Content, k)
		}
		skip()
		if i >= len(t) {
			return nil, 0, errSlowPath
		}
		switch t[i] {
		case ',':
			i++
			skip()
			if i < len(t) && t[i] == closer {
				return nil, 0, errSlowPath // a trailing comma
			}
		case closer:
			return n, i + 1, nil
		default:
			return nil, 0, errSlowPath
		}
	}
}

// scalar makes the node of a one-line scalar written as text (quotes included) at byte offset
// off of line l.
func scalar(text string, l fyLine, off int) (*yaml.Node, error) {
	n := &yaml.Node{Kind: yaml.ScalarNode, Line: l.num, Column: col(l, off)}
	switch text[0] {
	case '\'':
		n.Style, n.Tag = yaml.SingleQuotedStyle, "!!str"
		n.Value = strings.ReplaceAll(text[1:len(text)-1], "''", "'")
		return n, nil
	case '"':
		v, err := unescapeDouble(text[1 : len(text)-1])
		if err != nil {
			return nil, err
		}
		n.Style, n.Tag, n.Value = yaml.DoubleQuotedStyle, "!!str", v
		return n, nil
	}
	n.Value = text
	return resolved(n)
}

// resolved sets a plain scalar's tag as yaml.v3 resolves it (the merge key "<<" aside).
func resolved(n *yaml.Node) (*yaml.Node, error) {
	if n.Value == "<<" {
		return nil, errSlowPath
	}
	// Most plain scalars start with a character no YAML type but a string can start with: ask
	// yaml.v3 only about the others.
	if c := n.Value[0]; c < utf8.RuneSelf && !strings.ContainsRune("tTfFnNyYoO~.+-0123456789", rune(c)) {
		n.Tag = "!!str"
		return n, nil
	}
	n.Tag = n.ShortTag()
	return n, nil
}

// unescapeDouble decodes the escapes of a double-quoted scalar the fast path knows.
func unescapeDouble(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		i++
		if i >= len(s) {
			return "", errSlowPath
		}
		switch s[i] {
		case '\\', '"':
			b.WriteByte(s[i])
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '0':
			b.WriteByte(0)
		case 'x', 'u', 'U':
			width := map[byte]int{'x': 2, 'u': 4, 'U': 8}[s[i]]
			if i+1+width > len(s) {
				return "", errSlowPath
			}
			r, err := strconv.ParseUint(s[i+1:i+1+width], 16, 32)
			if err != nil || !utf8.ValidRune(rune(r)) {
				return "", errSlowPath
			}
			b.WriteRune(rune(r))
			i += width
		default:
			return "", errSlowPath
		}
	}
	return b.String(), nil
}
