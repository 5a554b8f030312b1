package display

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// RegValue is one value of a .reg export. Data holds the bytes of hex:/hex(n): values; String
// the text of "string" values and dword: values as written.
type RegValue struct {
	Name   string // "" for the default value (@)
	Type   string // "string", "dword", "hex", "hex(2)"...
	String string
	Data   []byte
}

// RegKey is one [key] section of a .reg export.
type RegKey struct {
	Path   string
	Line   int
	Values []RegValue
}

// Value returns the named value.
func (k *RegKey) Value(name string) (RegValue, bool) {
	for _, v := range k.Values {
		if strings.EqualFold(v.Name, name) {
			return v, true
		}
	}
	return RegValue{}, false
}

// maxRegLogicalLine bounds one value after joining its continuation lines.
const maxRegLogicalLine = 8 << 20

// ParseRegFile reads `reg export` / regedit output ("Windows Registry Editor Version 5.00" or
// "REGEDIT4"), UTF-16 with BOM or UTF-8. Errors name the line.
func ParseRegFile(raw []byte) ([]RegKey, error) {
	text, err := decodeText(raw)
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	var (
		keys    []RegKey
		lineNo  int
		logical strings.Builder
		start   int
		header  bool
	)
	handle := func(line string, at int) error {
		switch {
		case line == "" || strings.HasPrefix(line, ";"):
			return nil
		case !header:
			if line != "Windows Registry Editor Version 5.00" && line != "REGEDIT4" {
				return fmt.Errorf("line %d: not a .reg file (header %q)", at, clip(line))
			}
			header = true
			return nil
		case line[0] == '[':
			if !strings.HasSuffix(line, "]") {
				return fmt.Errorf("line %d: key line without closing ]", at)
			}
			keys = append(keys, RegKey{Path: line[1 : len(line)-1], Line: at})
			return nil
		}
		if len(keys) == 0 {
			return fmt.Errorf("line %d: value before any [key]", at)
		}
		v, err := parseRegValue(line)
		if err != nil {
			return fmt.Errorf("line %d: %w", at, err)
		}
		k := &keys[len(keys)-1]
		k.Values = append(k.Values, v)
		return nil
	}
	for sc.Scan() {
		lineNo++
		line := strings.TrimRight(sc.Text(), " \t\r")
		if logical.Len() == 0 {
			start = lineNo
			line = strings.TrimLeft(line, " \t")
			if lineNo == 1 {
				line = strings.TrimPrefix(line, "\ufeff")
			}
		} else {
			line = strings.TrimLeft(line, " \t")
		}
		if strings.HasSuffix(line, `\`) && !strings.HasPrefix(line, "[") {
			if logical.Len()+len(line) > maxRegLogicalLine {
				return nil, fmt.Errorf("line %d: value longer than %d bytes", start, maxRegLogicalLine)
			}
			logical.WriteString(line[:len(line)-1])
			continue
		}
		logical.WriteString(line)
		l := logical.String()
		logical.Reset()
		if err := handle(l, start); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", lineNo+1, err)
	}
	if logical.Len() > 0 {
		if err := handle(logical.String(), start); err != nil {
			return nil, err
		}
	}
	if !header {
		return nil, fmt.Errorf("empty .reg file")
	}
	return keys, nil
}

func parseRegValue(line string) (RegValue, error) {
	var v RegValue
	var rest string
	if strings.HasPrefix(line, "@=") {
		rest = line[2:]
	} else {
		if !strings.HasPrefix(line, `"`) {
			return v, fmt.Errorf("want \"name\"=value, got %q", clip(line))
		}
		name, n, err := regQuoted(line)
		if err != nil {
			return v, err
		}
		v.Name = name
		rest = line[n:]
		if !strings.HasPrefix(rest, "=") {
			return v, fmt.Errorf("value %q: want = after the name", name)
		}
		rest = rest[1:]
	}
	switch {
	case rest == "-":
		v.Type = "delete"
	case strings.HasPrefix(rest, `"`):
		s, n, err := regQuoted(rest)
		if err != nil {
			return v, fmt.Errorf("value %q: %w", v.Name, err)
		}
		if n != len(rest) {
			return v, fmt.Errorf("value %q: text after the closing quote", v.Name)
		}
		v.Type, v.String = "string", s
	case strings.HasPrefix(rest, "dword:"):
		v.Type, v.String = "dword", rest[6:]
	case strings.HasPrefix(rest, "hex"):
		typ, data, ok := strings.Cut(rest, ":")
		if !ok {
			return v, fmt.Errorf("value %q: hex without ':'", v.Name)
		}
		h := strings.NewReplacer(",", "", " ", "", "\t", "").Replace(data)
		b, err := hex.DecodeString(h)
		if err != nil {
			return v, fmt.Errorf("value %q: bad hex data: %w", v.Name, err)
		}
		v.Type, v.Data = typ, b
	default:
		return v, fmt.Errorf("value %q: unknown value type %q", v.Name, clip(rest))
	}
	return v, nil
}

// regQuoted reads a "..." string with \\ and \" escapes; n is the bytes consumed.
func regQuoted(s string) (string, int, error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 < len(s) {
				i++
			}
			b.WriteByte(s[i])
		case '"':
			return b.String(), i + 1, nil
		default:
			b.WriteByte(s[i])
		}
	}
	return "", 0, fmt.Errorf("unterminated quoted string")
}

// DisplaysFromRegFile reads the EDIDs of a .reg export of HKLM\SYSTEM\CurrentControlSet\Enum\
// DISPLAY: every ...\DISPLAY\<PnPID>\<instance>\Device Parameters key with an EDID value. The
// connector is DISPLAY\<PnPID>\<instance>.
func DisplaysFromRegFile(raw []byte) ([]Display, error) {
	keys, err := ParseRegFile(raw)
	if err != nil {
		return nil, err
	}
	var out []Display
	for i := range keys {
		k := &keys[i]
		parts := strings.Split(k.Path, `\`)
		n := len(parts)
		if n < 4 || !strings.EqualFold(parts[n-1], "Device Parameters") || !strings.EqualFold(parts[n-4], "DISPLAY") {
			continue
		}
		v, ok := k.Value("EDID")
		if !ok || v.Data == nil {
			continue
		}
		out = append(out, FromEDID(strings.Join(parts[n-4:n-1], `\`), v.Data))
	}
	return out, nil
}

// decodeText turns UTF-16 (with BOM, as reg export writes) or UTF-8 text into a string.
func decodeText(b []byte) (string, error) {
	switch {
	case bytes.HasPrefix(b, []byte{0xff, 0xfe}) || bytes.HasPrefix(b, []byte{0xfe, 0xff}):
		be := b[0] == 0xfe
		b = b[2:]
		if len(b)%2 != 0 {
			return "", fmt.Errorf("UTF-16 text with an odd number of bytes")
		}
		u := make([]uint16, len(b)/2)
		for i := range u {
			if be {
				u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
			} else {
				u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
			}
		}
		return string(utf16.Decode(u)), nil
	case bytes.HasPrefix(b, []byte{0xef, 0xbb, 0xbf}):
		b = b[3:]
	}
	if !utf8.Valid(b) {
		return strings.ToValidUTF8(string(b), "\uFFFD"), nil
	}
	return string(b), nil
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}
