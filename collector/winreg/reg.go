package winreg

import (
	"encoding/binary"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// MaxSize is the largest .reg file Parse accepts, in bytes before decoding.
const MaxSize = 64 << 20

const (
	maxLogicalLine = 8 << 20 // one line after joining its continuation lines
	maxDepth       = 512     // key path levels (the registry's own limit)
)

// Type is a registry value type (REG_SZ = 1 ...): the N of hex(N): data.
type Type uint32

// Value types that .reg files write or Parse decodes.
const (
	None           Type = 0  // REG_NONE, hex(0):
	SZ             Type = 1  // REG_SZ, "text" or hex(1):
	ExpandSZ       Type = 2  // REG_EXPAND_SZ, hex(2):
	Binary         Type = 3  // REG_BINARY, hex:
	DWord          Type = 4  // REG_DWORD, dword:xxxxxxxx or hex(4):
	DWordBigEndian Type = 5  // REG_DWORD_BIG_ENDIAN, hex(5):
	Link           Type = 6  // REG_LINK, hex(6):
	MultiSZ        Type = 7  // REG_MULTI_SZ, hex(7):
	QWord          Type = 11 // REG_QWORD, hex(b):
)

// Value is one value line of a .reg file.
type Value struct {
	Name   string // "" for the default value (@)
	Type   Type
	Delete bool // "name"=- : the line deletes the value
	Line   int
	// Data holds the bytes of hex: and hex(N): data: non-nil (possibly empty) for every hex
	// value, nil for "text" and dword: values.
	Data []byte
	// String is the text of SZ and ExpandSZ values: a quoted string, or hex(1)/hex(2) data
	// decoded (UTF-16LE, or single-byte text in a REGEDIT4 file) without its trailing NULs.
	String string
	// Strings are the strings of a MultiSZ value, empty ones dropped.
	Strings []string
	// Uint is the number of a DWord (dword: or four bytes of hex(4)) or QWord (eight bytes of
	// hex(b)) value.
	Uint uint64
}

// Any returns v the way Registry readers see it: SZ and ExpandSZ as string, MultiSZ as
// []string, DWord and QWord of the right size as uint64, anything else as []byte; nil for a
// deletion.
func (v Value) Any() any {
	switch {
	case v.Delete:
		return nil
	case v.Type == SZ || v.Type == ExpandSZ:
		return v.String
	case v.Type == MultiSZ:
		return v.Strings
	case v.Type == DWord && (v.Data == nil || len(v.Data) == 4), v.Type == QWord && len(v.Data) == 8:
		return v.Uint
	}
	return v.Data
}

// Key is one [key] section of a .reg file.
type Key struct {
	Path   string // as written between the brackets, without the - of a deletion
	Line   int
	Delete bool    // [-path]: the key and its subkeys are deleted; the section has no values
	Values []Value // in file order, deletions included
}

// Value returns the section's value called name (case-insensitive): the last line for it, and
// false when there is none or that line deletes it.
func (k *Key) Value(name string) (Value, bool) {
	for i := len(k.Values) - 1; i >= 0; i-- {
		if strings.EqualFold(k.Values[i].Name, name) {
			return k.Values[i], !k.Values[i].Delete
		}
	}
	return Value{}, false
}

// File is a parsed .reg file. Keys lists its sections as written; Subkeys, Values and Value read
// the registry the file describes once applied in order: sections of the same key merged, later
// values replacing earlier ones, deletions applied, and a key's missing ancestors implied. Key
// paths there compare case-insensitively and may use short hive names (see NormalizeHive).
type File struct {
	Keys []Key
	root node
}

type node struct {
	name     string // as last written
	explicit bool   // a [key] section names it (implied ancestors have no values)
	subs     map[string]*node
	vals     map[string]Value // lowercased name
}

// NormalizeHive expands a short hive name at the start of a key path (HKLM, HKU, HKCU, HKCR,
// HKCC) to the long one reg export writes (HKEY_LOCAL_MACHINE...).
func NormalizeHive(path string) string {
	hive, rest, found := strings.Cut(path, `\`)
	long := hive
	switch strings.ToUpper(hive) {
	case "HKLM":
		long = "HKEY_LOCAL_MACHINE"
	case "HKU":
		long = "HKEY_USERS"
	case "HKCU":
		long = "HKEY_CURRENT_USER"
	case "HKCR":
		long = "HKEY_CLASSES_ROOT"
	case "HKCC":
		long = "HKEY_CURRENT_CONFIG"
	}
	if long == hive {
		return path
	}
	if !found {
		return long
	}
	return long + `\` + rest
}

// find walks to path's node, creating missing ones when create is set (and recording the
// spelling of every level as it goes).
func (f *File) find(path string, create bool) *node {
	n := &f.root
	for rest := keyPath(path); ; {
		seg, tail, more := strings.Cut(rest, `\`)
		low := strings.ToLower(seg)
		c := n.subs[low]
		if create {
			if c == nil {
				c = &node{}
				if n.subs == nil {
					n.subs = map[string]*node{}
				}
				n.subs[low] = c
			}
			c.name = seg
		}
		if c == nil {
			return nil
		}
		if n, rest = c, tail; !more {
			return n
		}
	}
}

// Subkeys lists the names of key's direct subkeys, sorted; key may be implied by a subkey.
func (f *File) Subkeys(key string) ([]string, error) {
	n := f.find(key, false)
	if n == nil {
		return nil, fmt.Errorf("registry key %s: not in export", key)
	}
	out := make([]string, 0, len(n.subs))
	for _, c := range n.subs {
		out = append(out, c.name)
	}
	sort.Strings(out)
	return out, nil
}

// Values returns key's values by name as Value.Any gives them, in a new map.
func (f *File) Values(key string) (map[string]any, error) {
	n := f.find(key, false)
	if n == nil || !n.explicit {
		return nil, fmt.Errorf("registry key %s: not in export", key)
	}
	out := make(map[string]any, len(n.vals))
	for _, v := range n.vals {
		out[v.Name] = v.Any()
	}
	return out, nil
}

// Value returns key's value called name (case-insensitive).
func (f *File) Value(key, name string) (Value, bool) {
	n := f.find(key, false)
	if n == nil || !n.explicit {
		return Value{}, false
	}
	v, ok := n.vals[strings.ToLower(name)]
	return v, ok
}

// Parse reads a `reg export` / regedit file: the "Windows Registry Editor Version 5.00" or
// "REGEDIT4" header (after any blank or ; comment lines), then [key] and [-key] sections of
// "name"=data and @=data lines; data is "text", dword:, hex: or hex(N): (continued over lines
// ending in \), or - to delete the value. The file is UTF-16 with a BOM (as reg export writes
// it) or UTF-8, at most MaxSize bytes. Values under a deleted key are ignored unread. Errors
// name the line.
func Parse(b []byte) (*File, error) {
	if len(b) > MaxSize {
		return nil, fmt.Errorf(".reg file of %d bytes, larger than the %d accepted", len(b), MaxSize)
	}
	text, err := DecodeText(b)
	if err != nil { // UTF-16 cut short: name the line where it ends
		t, _ := DecodeText(b[:len(b)-1])
		return nil, fmt.Errorf("line %d: %w", strings.Count(t, "\n")+1, err)
	}
	p := parser{f: &File{}}
	var (
		logical strings.Builder
		cont    bool // logical holds a line that ended in \
		lineNo  int
		start   int
	)
	for rest := text; rest != ""; {
		var line string
		line, rest, _ = strings.Cut(rest, "\n")
		lineNo++
		if lineNo == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		line = strings.TrimSpace(line)
		if !cont {
			start = lineNo
			logical.Reset()
		}
		if logical.Len()+len(line) > maxLogicalLine {
			return nil, fmt.Errorf("line %d: line longer than %d bytes", start, maxLogicalLine)
		}
		// A value's data continues on the next line after a trailing \; key and comment
		// lines never continue.
		if strings.HasSuffix(line, `\`) && (cont || line[0] != '[' && line[0] != ';') {
			logical.WriteString(line[:len(line)-1])
			cont = true
			continue
		}
		if cont {
			logical.WriteString(line)
			line = logical.String()
			cont = false
		}
		if err := p.line(line, start); err != nil {
			return nil, err
		}
	}
	if cont { // a \ on the last line: take what there is
		if err := p.line(logical.String(), start); err != nil {
			return nil, err
		}
	}
	if !p.header {
		return nil, fmt.Errorf("line %d: no .reg header (Windows Registry Editor Version 5.00 or REGEDIT4)", lineNo+1)
	}
	return p.f, nil
}

type parser struct {
	f      *File
	header bool
	ansi   bool  // REGEDIT4: hex(1), hex(2), hex(7) data is single-byte text
	cur    *node // the current section's node; nil in a [-key] section
}

func (p *parser) line(line string, at int) error {
	switch {
	case line == "" || line[0] == ';':
		return nil
	case !p.header:
		switch {
		case strings.HasPrefix(line, "Windows Registry Editor Version"):
		case line == "REGEDIT4":
			p.ansi = true
		default:
			return fmt.Errorf("line %d: not a .reg file (header %q)", at, clip(line))
		}
		p.header = true
		return nil
	case line[0] == '[':
		if !strings.HasSuffix(line, "]") {
			return fmt.Errorf("line %d: key line without closing ]", at)
		}
		k := Key{Path: line[1 : len(line)-1], Line: at}
		if n := strings.Count(k.Path, `\`) + 1; n > maxDepth {
			return fmt.Errorf("line %d: key path of %d levels, deeper than %d", at, n, maxDepth)
		}
		if strings.HasPrefix(k.Path, "-") {
			k.Path, k.Delete = k.Path[1:], true
			p.cur = nil
			p.delete(k.Path)
		} else {
			p.cur = p.f.find(k.Path, true)
			p.cur.explicit = true
		}
		p.f.Keys = append(p.f.Keys, k)
		return nil
	case len(p.f.Keys) == 0:
		return fmt.Errorf("line %d: value before any [key]", at)
	case p.cur == nil: // under [-key]
		return nil
	}
	v, err := p.value(line)
	if err != nil {
		return fmt.Errorf("line %d: %w", at, err)
	}
	v.Line = at
	k := &p.f.Keys[len(p.f.Keys)-1]
	k.Values = append(k.Values, v)
	low := strings.ToLower(v.Name)
	if v.Delete {
		delete(p.cur.vals, low)
		return nil
	}
	if p.cur.vals == nil {
		p.cur.vals = map[string]Value{}
	}
	p.cur.vals[low] = v
	return nil
}

// keyPath is path with its hive's long name and without trailing backslashes, which the
// registry ignores.
func keyPath(path string) string {
	return strings.TrimRight(NormalizeHive(path), `\`)
}

// delete removes path and its subkeys.
func (p *parser) delete(path string) {
	path = keyPath(path)
	n, name := &p.f.root, path
	if i := strings.LastIndexByte(path, '\\'); i >= 0 {
		n, name = p.f.find(path[:i], false), path[i+1:]
	}
	if n != nil {
		delete(n.subs, strings.ToLower(name))
	}
}

// value parses `"name"=data` or `@=data`.
func (p *parser) value(line string) (Value, error) {
	var v Value
	var rest string
	switch line[0] {
	case '@':
		rest = line[1:]
	case '"':
		name, n, err := quoted(line)
		if err != nil {
			return v, fmt.Errorf("value name: %w", err)
		}
		v.Name, rest = name, line[n:]
	default:
		return v, fmt.Errorf("want \"name\"=data, got %q", clip(line))
	}
	rest = strings.TrimLeft(rest, " \t")
	if !strings.HasPrefix(rest, "=") {
		return v, fmt.Errorf("value %q: want = after the name", clip(v.Name))
	}
	rest = strings.TrimLeft(rest[1:], " \t")
	switch {
	case rest == "-":
		v.Delete = true
	case strings.HasPrefix(rest, `"`):
		s, n, err := quoted(rest)
		if err != nil {
			return v, fmt.Errorf("value %q: %w", clip(v.Name), err)
		}
		if n != len(rest) {
			return v, fmt.Errorf("value %q: text after the closing quote", clip(v.Name))
		}
		v.Type, v.String = SZ, s
	case strings.HasPrefix(rest, "dword:"):
		u, err := strconv.ParseUint(rest[6:], 16, 32)
		if err != nil {
			return v, fmt.Errorf("value %q: dword %q: want up to 8 hex digits", clip(v.Name), clip(rest[6:]))
		}
		v.Type, v.Uint = DWord, u
	case strings.HasPrefix(rest, "hex"):
		v.Type, rest = Binary, rest[3:]
		if strings.HasPrefix(rest, "(") {
			end := strings.IndexByte(rest, ')')
			if end < 0 {
				return v, fmt.Errorf("value %q: hex( without )", clip(v.Name))
			}
			t, err := strconv.ParseUint(rest[1:end], 16, 32)
			if err != nil {
				return v, fmt.Errorf("value %q: bad type hex(%s)", clip(v.Name), clip(rest[1:end]))
			}
			v.Type, rest = Type(t), rest[end+1:]
		}
		if !strings.HasPrefix(rest, ":") {
			return v, fmt.Errorf("value %q: want : after hex", clip(v.Name))
		}
		data, err := hexBytes(rest[1:])
		if err != nil {
			return v, fmt.Errorf("value %q: bad hex data: %w", clip(v.Name), err)
		}
		v.Data = data
		p.decode(&v)
	default:
		return v, fmt.Errorf("value %q: unknown data %q", clip(v.Name), clip(rest))
	}
	return v, nil
}

// decode fills String, Strings or Uint from the hex data of the types that have them.
func (p *parser) decode(v *Value) {
	text := func() string {
		if p.ansi {
			return latin1(v.Data)
		}
		return decodeUTF16(v.Data, false)
	}
	switch v.Type {
	case SZ, ExpandSZ:
		v.String = strings.TrimRight(text(), "\x00")
	case MultiSZ:
		for _, s := range strings.Split(text(), "\x00") {
			if s != "" {
				v.Strings = append(v.Strings, s)
			}
		}
	case DWord:
		if len(v.Data) == 4 {
			v.Uint = uint64(binary.LittleEndian.Uint32(v.Data))
		}
	case QWord:
		if len(v.Data) == 8 {
			v.Uint = binary.LittleEndian.Uint64(v.Data)
		}
	}
}

// latin1 reads single-byte text; a REGEDIT4 file does not say its code page.
func latin1(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b))
	for _, c := range b {
		sb.WriteRune(rune(c))
	}
	return sb.String()
}

// hexBytes decodes hex digit pairs, ignoring commas, spaces and tabs between them.
func hexBytes(s string) ([]byte, error) {
	out := make([]byte, 0, (len(s)+1)/3)
	var hi byte
	half := false
	for i := 0; i < len(s); i++ {
		var d byte
		switch c := s[i]; {
		case c == ',' || c == ' ' || c == '\t':
			continue
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return nil, fmt.Errorf("not a hex digit at %q", clip(s[i:]))
		}
		if half {
			out = append(out, hi<<4|d)
		}
		hi, half = d, !half
	}
	if half {
		return nil, fmt.Errorf("odd number of hex digits")
	}
	return out, nil
}

// quoted reads a "..." string with \\ and \" escapes (a \ takes the next character as is); n is
// the bytes consumed.
func quoted(s string) (string, int, error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), i + 1, nil
		default:
			b.WriteByte(s[i])
		}
	}
	return "", 0, fmt.Errorf("unterminated quoted string")
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}
