// Package ioreg parses the text that macOS's `ioreg -l -w0` prints (any plane, any -p/-r/-c
// selection) into registry entries with typed properties, so the USB and display collectors can
// read a live dump or a saved one on any OS. It reads only the text it is given.
package ioreg

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Limits that keep hostile input cheap: a dump larger than these is refused with an error.
const (
	MaxLineBytes = 4 << 20 // one line (ioreg -w0 puts a whole property on one line)
	MaxNesting   = 64      // nested {} and () inside one value
	MaxEntries   = 200000  // registry entries in one dump
)

// Entry is one registry entry: the `+-o Name@Location  <class C, id 0x...>` line and the
// property block that follows it (present only with ioreg's -l).
//
// Property values are typed: string, int64, uint64 (only above the int64 range), bool, []byte
// (ioreg's <hex> data), map[string]any (a {} dictionary) and []any (a () array). A bare token
// ioreg did not quote is kept as a string.
type Entry struct {
	Name     string
	Location string
	Class    string
	ID       string // registry entry id, "0x1000893fc"
	Line     int    // 1-based line of the +-o header
	Props    map[string]any
	Parent   *Entry
	Children []*Entry

	col int // column of "+-o", which gives the tree depth
}

// Parse reads an ioreg dump. Entries come back in the order they appear, with Parent and
// Children linking the tree. Malformed text gives an error naming the line.
func Parse(r io.Reader) ([]*Entry, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLineBytes)
	var (
		entries []*Entry
		stack   []*Entry // ancestors of the current entry, outermost first
		cur     *Entry
		inProps bool
		lineNo  int
	)
	for sc.Scan() {
		lineNo++
		raw := sc.Text()
		line, col := stripTree(raw)
		switch {
		case line == "":
			continue
		case strings.HasPrefix(line, "+-o"):
			if inProps {
				return nil, fmt.Errorf("ioreg line %d: new entry inside the property block of %q (missing })", lineNo, cur.Name)
			}
			if len(entries) >= MaxEntries {
				return nil, fmt.Errorf("ioreg line %d: more than %d entries", lineNo, MaxEntries)
			}
			e := parseHeader(strings.TrimSpace(line[3:]))
			e.Line, e.col = lineNo, col
			for len(stack) > 0 && stack[len(stack)-1].col >= col {
				stack = stack[:len(stack)-1]
			}
			if len(stack) > 0 {
				e.Parent = stack[len(stack)-1]
				e.Parent.Children = append(e.Parent.Children, e)
			}
			stack = append(stack, e)
			entries = append(entries, e)
			cur = e
		case line == "{":
			if cur == nil {
				return nil, fmt.Errorf("ioreg line %d: property block before any +-o entry", lineNo)
			}
			if inProps {
				return nil, fmt.Errorf("ioreg line %d: nested property block in %q", lineNo, cur.Name)
			}
			if cur.Props != nil {
				return nil, fmt.Errorf("ioreg line %d: second property block for %q", lineNo, cur.Name)
			}
			inProps = true
			cur.Props = map[string]any{}
		case line == "}":
			if !inProps {
				return nil, fmt.Errorf("ioreg line %d: } outside a property block", lineNo)
			}
			inProps = false
		case line[0] == '"':
			if !inProps {
				return nil, fmt.Errorf("ioreg line %d: property outside a property block", lineNo)
			}
			key, val, err := parseProperty(line)
			if err != nil {
				return nil, fmt.Errorf("ioreg line %d: %w", lineNo, err)
			}
			cur.Props[key] = val
		default:
			return nil, fmt.Errorf("ioreg line %d: unexpected text %q", lineNo, clip(line))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("ioreg line %d: %w", lineNo+1, err)
	}
	if inProps {
		return nil, fmt.Errorf("ioreg: property block of %q (line %d) not closed at end of input", cur.Name, cur.Line)
	}
	return entries, nil
}

// stripTree removes the tree drawing (spaces and |) before an entry's text and returns the rest
// with the column where it starts.
func stripTree(s string) (string, int) {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '|' || s[i] == '\t') {
		i++
	}
	return strings.TrimRight(s[i:], " \t\r"), i
}

// parseHeader splits "Name@Location  <class C, id 0x1, registered, ...>".
func parseHeader(s string) *Entry {
	e := &Entry{}
	if i := strings.LastIndex(s, "<class "); i >= 0 && strings.HasSuffix(s, ">") {
		attrs := strings.Split(s[i+len("<class "):len(s)-1], ",")
		e.Class = strings.TrimSpace(attrs[0])
		for _, a := range attrs[1:] {
			a = strings.TrimSpace(a)
			if strings.HasPrefix(a, "id ") {
				e.ID = strings.TrimSpace(a[3:])
			}
		}
		s = strings.TrimSpace(s[:i])
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		e.Name, e.Location = s[:i], s[i+1:]
	} else {
		e.Name = s
	}
	return e
}

// parseProperty parses `"key" = value`. The key ends at the first `" = `; ioreg does not escape
// quotes inside strings, so a top-level string value runs to the last quote of the line.
func parseProperty(line string) (string, any, error) {
	end := strings.Index(line, `" = `)
	if end < 1 {
		return "", nil, fmt.Errorf("property %q: want \"key\" = value", clip(line))
	}
	key := line[1:end]
	rest := line[end+4:]
	if len(rest) >= 2 && rest[0] == '"' && rest[len(rest)-1] == '"' {
		return key, rest[1 : len(rest)-1], nil
	}
	p := &valueParser{s: rest}
	v, err := p.value(0)
	if err != nil {
		return "", nil, fmt.Errorf("property %q: %w", key, err)
	}
	p.space()
	if p.i != len(p.s) {
		return "", nil, fmt.Errorf("property %q: trailing text %q at offset %d", key, clip(p.s[p.i:]), p.i)
	}
	return key, v, nil
}

type valueParser struct {
	s string
	i int
}

func (p *valueParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *valueParser) value(depth int) (any, error) {
	if depth > MaxNesting {
		return nil, fmt.Errorf("nesting deeper than %d at offset %d", MaxNesting, p.i)
	}
	p.space()
	if p.i >= len(p.s) {
		return nil, fmt.Errorf("missing value at offset %d", p.i)
	}
	switch p.s[p.i] {
	case '"':
		return p.str()
	case '<':
		return p.data()
	case '{':
		return p.dict(depth)
	case '(':
		return p.array(depth)
	default:
		return p.bare()
	}
}

// str reads a quoted string inside a compound value. Without escapes in ioreg's output, a quote
// ends the string only when what follows it can follow a value.
func (p *valueParser) str() (string, error) {
	start := p.i + 1
	for j := start; j < len(p.s); j++ {
		if p.s[j] != '"' {
			continue
		}
		if j+1 == len(p.s) || strings.IndexByte(",=})>", p.s[j+1]) >= 0 {
			p.i = j + 1
			return p.s[start:j], nil
		}
	}
	return "", fmt.Errorf("unterminated string at offset %d", p.i)
}

// data reads <0a1b2c> (hex bytes) or <"text","text"> (NUL-separated strings, as ioreg prints
// printable data).
func (p *valueParser) data() ([]byte, error) {
	start := p.i
	p.i++
	if p.i < len(p.s) && p.s[p.i] == '"' {
		var out []byte
		for {
			s, err := p.str()
			if err != nil {
				return nil, err
			}
			out = append(append(out, s...), 0)
			if p.i >= len(p.s) {
				return nil, fmt.Errorf("unterminated data at offset %d", start)
			}
			switch p.s[p.i] {
			case ',':
				p.i++
				if p.i >= len(p.s) || p.s[p.i] != '"' {
					return nil, fmt.Errorf("bad text data at offset %d", p.i)
				}
			case '>':
				p.i++
				return out, nil
			default:
				return nil, fmt.Errorf("bad text data at offset %d", p.i)
			}
		}
	}
	end := strings.IndexByte(p.s[p.i:], '>')
	if end < 0 {
		return nil, fmt.Errorf("unterminated data at offset %d", start)
	}
	h := p.s[p.i : p.i+end]
	p.i += end + 1
	b, err := hex.DecodeString(h)
	if err != nil {
		return nil, fmt.Errorf("data at offset %d: %w", start, err)
	}
	return b, nil
}

func (p *valueParser) dict(depth int) (map[string]any, error) {
	start := p.i
	p.i++
	m := map[string]any{}
	for {
		p.space()
		if p.i >= len(p.s) {
			return nil, fmt.Errorf("unterminated dictionary at offset %d", start)
		}
		if p.s[p.i] == '}' {
			p.i++
			return m, nil
		}
		if len(m) > 0 {
			if p.s[p.i] != ',' {
				return nil, fmt.Errorf("want , or } at offset %d", p.i)
			}
			p.i++
			p.space()
		}
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			return nil, fmt.Errorf("want quoted key at offset %d", p.i)
		}
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != '=' {
			return nil, fmt.Errorf("want = after key %q at offset %d", k, p.i)
		}
		p.i++
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		m[k] = v
	}
}

func (p *valueParser) array(depth int) ([]any, error) {
	start := p.i
	p.i++
	var a []any
	for {
		p.space()
		if p.i >= len(p.s) {
			return nil, fmt.Errorf("unterminated array at offset %d", start)
		}
		if p.s[p.i] == ')' {
			p.i++
			if a == nil {
				a = []any{}
			}
			return a, nil
		}
		if len(a) > 0 {
			if p.s[p.i] != ',' {
				return nil, fmt.Errorf("want , or ) at offset %d", p.i)
			}
			p.i++
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
	}
}

// bare reads an unquoted token: a number, Yes/No, or anything else up to a delimiter.
func (p *valueParser) bare() (any, error) {
	start := p.i
	for p.i < len(p.s) && strings.IndexByte(",=})>", p.s[p.i]) < 0 {
		p.i++
	}
	tok := strings.TrimSpace(p.s[start:p.i])
	if tok == "" {
		return nil, fmt.Errorf("empty value at offset %d", start)
	}
	switch tok {
	case "Yes":
		return true, nil
	case "No":
		return false, nil
	}
	if n, err := strconv.ParseInt(tok, 0, 64); err == nil {
		return n, nil
	}
	if n, err := strconv.ParseUint(tok, 0, 64); err == nil {
		return n, nil
	}
	return tok, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// String returns a string property ("" and false when absent or not a string).
func (e *Entry) String(key string) (string, bool) {
	s, ok := e.Props[key].(string)
	return s, ok
}

// Int returns an integer property; uint64 values above the int64 range are refused.
func (e *Entry) Int(key string) (int64, bool) { return AsInt(e.Props[key]) }

// Data returns a data (<hex>) property.
func (e *Entry) Data(key string) ([]byte, bool) {
	b, ok := e.Props[key].([]byte)
	return b, ok
}

// Dict returns a dictionary property.
func (e *Entry) Dict(key string) (map[string]any, bool) {
	m, ok := e.Props[key].(map[string]any)
	return m, ok
}

// AsInt converts a parsed value to int64 when it is an integer that fits.
func AsInt(v any) (int64, bool) {
	n, ok := v.(int64)
	return n, ok
}

// AsUint converts a parsed value to uint64 when it is a non-negative integer (ioreg prints
// 64-bit location IDs unsigned).
func AsUint(v any) (uint64, bool) {
	switch n := v.(type) {
	case int64:
		if n >= 0 {
			return uint64(n), true
		}
	case uint64:
		return n, true
	}
	return 0, false
}
