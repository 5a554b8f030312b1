package winreg

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// sampleReg is a Windows 10/11 host export written from reg export's documented format.
const sampleReg = `Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\ComputerName\ComputerName]
"ComputerName"="DESKTOP-7Q2K"

[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion]
"ProductName"="Windows 10 Pro"
"DisplayVersion"="23H2"
"CurrentBuild"="22631"
"InstallDate"=dword:65a1b2c3

[HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\TimeZoneInformation]
"Bias"=dword:fffffde4
"TimeZoneKeyName"="Korea Standard Time"

[HKEY_USERS\S-1-5-21-1004336348-1177238915-682003330-1001\Keyboard Layout\Preload]
"2"="00000412"
"1"="00000409"

[HKEY_USERS\S-1-5-21-1004336348-1177238915-682003330-1001\Control Panel\International]
"LocaleName"="ko-KR"
"sShortDate"="yyyy-MM-dd"

[HKEY_USERS\S-1-5-21-1004336348-1177238915-682003330-1001\Control Panel\International\User Profile]
"Languages"=hex(7):6b,00,6f,00,2d,00,4b,00,52,00,00,00,65,00,6e,00,2d,00,55,00,\
  53,00,00,00,00,00
"ShowAutoCorrection"=dword:00000001

[HKEY_USERS\S-1-5-21-1004336348-1177238915-682003330-1001\Control Panel\International\User Profile\ko-KR]
"0412:{A028AE76-01B1-46C2-99C4-ACD9858AE02F}{B5FE1F02-D5F2-4445-9C03-C568F23C99A1}"=dword:00000001
"CachedLanguageName"="@Winlangdb.dll,-1166"

[HKEY_USERS\S-1-5-21-1004336348-1177238915-682003330-1001_Classes]
`

func utf16LE(s string) []byte {
	b := []byte{0xFF, 0xFE}
	for _, c := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, c)
	}
	return b
}

func utf16BE(s string) []byte {
	b := []byte{0xFE, 0xFF}
	for _, c := range utf16.Encode([]rune(s)) {
		b = binary.BigEndian.AppendUint16(b, c)
	}
	return b
}

// regValue looks a value up the way host's Registry readers do (case-insensitive name).
func regValue(r interface {
	Values(string) (map[string]any, error)
}, key, name string) any {
	vals, err := r.Values(key)
	if err != nil {
		return nil
	}
	for k, v := range vals {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

// From host's TestParseRegExport.
func TestParseHostExport(t *testing.T) {
	for name, data := range map[string][]byte{"utf16": utf16LE(sampleReg), "utf8": []byte(sampleReg)} {
		r, err := Parse(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		const up = `HKEY_USERS\S-1-5-21-1004336348-1177238915-682003330-1001\Control Panel\International\User Profile`
		if v := regValue(r, up, "languages"); !reflect.DeepEqual(v, []string{"ko-KR", "en-US"}) {
			t.Errorf("%s: multi-string %#v", name, v)
		}
		if v := regValue(r, `HKLM\SYSTEM\CurrentControlSet\Control\TimeZoneInformation`, "Bias"); v != uint64(0xfffffde4) {
			t.Errorf("%s: dword %#v", name, v)
		}
		subs, _ := r.Subkeys(`HKEY_USERS`)
		if len(subs) != 2 {
			t.Errorf("%s: users %v", name, subs)
		}
		if len(r.Keys) != 8 || r.Keys[7].Path != `HKEY_USERS\S-1-5-21-1004336348-1177238915-682003330-1001_Classes` || r.Keys[7].Line != 33 {
			t.Errorf("%s: sections %d, last %+v", name, len(r.Keys), r.Keys[len(r.Keys)-1])
		}
	}
	for _, bad := range []string{"not a reg file", "REGEDIT4\n[HKEY_USERS\\x\n", "REGEDIT4\n[HKEY_USERS\\x]\n\"a\"=dword:zz\n", "REGEDIT4\n[A]\n\"a\"=hex:0g\n", "REGEDIT4\n[A]\n\"a\n"} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// From display's TestRegFileErrors.
func TestParseErrors(t *testing.T) {
	cases := map[string]string{
		"no header":      "[HKEY_X]\n",
		"value first":    "REGEDIT4\n\"a\"=\"b\"\n",
		"bad hex":        "REGEDIT4\n[K]\n\"a\"=hex:0g\n",
		"unknown type":   "REGEDIT4\n[K]\n\"a\"=qword:1\n",
		"open key":       "REGEDIT4\n[K\n",
		"unterminated":   "REGEDIT4\n[K]\n\"a=1\n",
		"junk after str": "REGEDIT4\n[K]\n\"a\"=\"b\"c\n",
		"no equals":      "REGEDIT4\n[K]\n\"a\" \"b\"\n",
		"empty":          "",
		// Beyond display's cases:
		"dword too big":  "REGEDIT4\n[K]\n\"a\"=dword:100000000\n",
		"dword empty":    "REGEDIT4\n[K]\n\"a\"=dword:\n",
		"no data":        "REGEDIT4\n[K]\n\"a\"=\n",
		"hex odd":        "REGEDIT4\n[K]\n\"a\"=hex:414\n",
		"hex bad type":   "REGEDIT4\n[K]\n\"a\"=hex(zz):41\n",
		"hex open type":  "REGEDIT4\n[K]\n\"a\"=hex(2:41\n",
		"hex no colon":   "REGEDIT4\n[K]\n\"a\"=hexadecimal:41\n",
		"bare name":      "REGEDIT4\n[K]\nname=\"b\"\n",
		"bad header":     "Windows Registry Editor\n[K]\n",
		"comments only":  "; nothing\n\n",
		"second header":  "REGEDIT4\n[K]\nREGEDIT4\n",
		"error on line7": "Windows Registry Editor Version 5.00\r\n\r\n[K]\r\n\"a\"=hex:01,\\\r\n  02,\\\r\n  03\r\n\"b\"=dword:x\r\n",
	}
	for name, in := range cases {
		_, err := Parse([]byte(in))
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if name != "empty" && !strings.Contains(err.Error(), "line") {
			t.Errorf("%s: error names no line: %v", name, err)
		}
	}
	if _, err := Parse([]byte("")); err == nil || !strings.HasPrefix(err.Error(), "line 1:") {
		t.Errorf("empty: %v", err)
	}
	if _, err := Parse([]byte(cases["error on line7"])); err == nil || !strings.HasPrefix(err.Error(), "line 7:") {
		t.Errorf("continued lines: %v", err)
	}
	keys, err := Parse([]byte("REGEDIT4\n[K]\n\"a \\\"q\\\" \\\\\"=\"v\"\n@=-\n\"h\"=hex(2):41,00,\\\n  42,00\n"))
	if err != nil {
		t.Fatal(err)
	}
	v, ok := keys.Keys[0].Value(`a "q" \`)
	if !ok || v.String != "v" {
		t.Errorf("escaped name: %+v", keys.Keys[0].Values)
	}
	if v, _ := keys.Keys[0].Value("h"); v.Type != ExpandSZ || string(v.Data) != "A\x00B\x00" {
		t.Errorf("continued hex: %+v", v)
	}
}

func TestParseValues(t *testing.T) {
	in := "\ufeff; exported by hand\r\n\r\nWindows Registry Editor Version 5.00\r\n" +
		"[HKLM\\Software\\Vigil]\r\n" +
		"@=\"default\"\r\n" +
		"\"sz\" = \"C:\\\\Program Files\\\\\"\r\n" +
		"\"dw\"=dword:0000002a\r\n" +
		"\"qw\"=hex(b):ff,00,00,00,01,00,00,00\r\n" +
		"\"qwShort\"=hex(b):ff,00\r\n" +
		"\"dw4\"=hex(4):2a,00,00,00\r\n" +
		"\"exp\"=hex(2):25,00,50,00,41,00,54,00,48,00,25,00,00,00\r\n" +
		"\"multi\"=hex(7):61,00,00,00,00,00,62,00,00,00,00,00\r\n" +
		"\"bin\"=hex:de,ad,\tBE,EF\r\n" +
		"\"empty\"=hex:\r\n" +
		"\"none\"=hex(0):\r\n" +
		"\"dev\"=hex(ffff0012):01\r\n" +
		"; a comment ending in \\\r\n" +
		"\"after\"=\"comment\"\r\n" +
		"\"tail\"=hex:01,\\\r\n"
	for name, data := range map[string][]byte{"utf8": []byte(in), "utf16le": utf16LE(in), "utf16be": utf16BE(in)} {
		f, err := Parse(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		vals, err := f.Values(`HKEY_LOCAL_MACHINE\SOFTWARE\vigil`)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := map[string]any{
			"": "default", "sz": `C:\Program Files\`, "dw": uint64(42), "qw": uint64(0x1000000ff),
			"qwShort": []byte{0xff, 0}, "dw4": uint64(42), "exp": "%PATH%", "multi": []string{"a", "b"},
			"bin": []byte{0xde, 0xad, 0xbe, 0xef}, "empty": []byte{}, "none": []byte{}, "dev": []byte{1},
			"tail": []byte{1}, "after": "comment",
		}
		if !reflect.DeepEqual(vals, want) {
			t.Errorf("%s: values\n got %#v\nwant %#v", name, vals, want)
		}
		if v, ok := f.Value(`hklm\software\VIGIL`, "DEV"); !ok || v.Type != 0xffff0012 || v.Line != 16 {
			t.Errorf("%s: dev %+v", name, v)
		}
		if k := f.Keys[0]; k.Line != 4 || k.Path != `HKLM\Software\Vigil` || len(k.Values) != 14 {
			t.Errorf("%s: key %+v", name, k)
		}
	}
}

func TestParseAnsi(t *testing.T) {
	f, err := Parse([]byte("REGEDIT4\n\n[HKEY_CURRENT_USER\\Environment]\n\"Path\"=hex(2):25,55,53,45,52,25,3b,e9,00\n\"m\"=hex(7):61,00,62,63,00,00\n"))
	if err != nil {
		t.Fatal(err)
	}
	if v := regValue(f, `HKCU\Environment`, "path"); v != "%USER%;é" {
		t.Errorf("REGEDIT4 expand string %#v", v)
	}
	if v := regValue(f, `HKCU\Environment`, "m"); !reflect.DeepEqual(v, []string{"a", "bc"}) {
		t.Errorf("REGEDIT4 multi-string %#v", v)
	}
}

func TestParseDeletionsAndMerging(t *testing.T) {
	f, err := Parse([]byte(`Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\A\B\C]
"x"="1"
"y"="2"

[HKLM\a\b\c]
"X"="3"
"y"=-

[HKEY_LOCAL_MACHINE\A\D]
"z"="4"

[-HKEY_LOCAL_MACHINE\A\D]
"ignored"=this is not even data

[HKEY_LOCAL_MACHINE\A\E\F]

[-HKLM\A\E\F]

[HKEY_LOCAL_MACHINE\A\B\C]
"w"=hex:01
"w"=hex:02
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Keys) != 7 || !f.Keys[3].Delete || f.Keys[3].Path != `HKEY_LOCAL_MACHINE\A\D` || len(f.Keys[3].Values) != 0 {
		t.Fatalf("sections %+v", f.Keys)
	}
	vals, err := f.Values(`HKEY_LOCAL_MACHINE\A\B\C`)
	if want := map[string]any{"X": "3", "w": []byte{2}}; err != nil || !reflect.DeepEqual(vals, want) {
		t.Errorf("merged values %#v %v", vals, err)
	}
	if v, ok := f.Keys[1].Value("y"); ok || !v.Delete {
		t.Errorf("deleted value in its section: %+v %v", v, ok)
	}
	if v, ok := f.Keys[0].Value("y"); !ok || v.String != "2" {
		t.Errorf("value in the first section: %+v %v", v, ok)
	}
	if _, err := f.Values(`HKLM\A\D`); err == nil {
		t.Error("deleted key has values")
	}
	if _, ok := f.Value(`HKLM\A\D`, "z"); ok {
		t.Error("deleted key's value")
	}
	if subs, err := f.Subkeys(`HKLM\A`); err != nil || !reflect.DeepEqual(subs, []string{"B", "E"}) {
		t.Errorf("subkeys of A: %v %v", subs, err)
	}
	if subs, err := f.Subkeys(`HKLM\A\E`); err != nil || len(subs) != 0 {
		t.Errorf("subkeys of E: %v %v", subs, err)
	}
	if _, err := f.Values(`HKLM\A`); err == nil {
		t.Error("implied key has values")
	}
	if _, err := f.Subkeys(`HKLM\Z`); err == nil {
		t.Error("missing key listed")
	}
}

func TestNormalizeHive(t *testing.T) {
	for in, want := range map[string]string{
		`HKLM\SOFTWARE`: `HKEY_LOCAL_MACHINE\SOFTWARE`, `hku`: `HKEY_USERS`, `HKCU\x\`: `HKEY_CURRENT_USER\x\`,
		`HKCR\.txt`: `HKEY_CLASSES_ROOT\.txt`, `HKCC`: `HKEY_CURRENT_CONFIG`, `HKEY_USERS\HKLM`: `HKEY_USERS\HKLM`,
		`HKLMX\a`: `HKLMX\a`, ``: ``,
	} {
		if got := NormalizeHive(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func TestDecodeText(t *testing.T) {
	for _, s := range []string{"", "plain", "ключ 键 \U0001F5A5 end"} {
		for name, b := range map[string][]byte{"utf8": []byte(s), "bom": append([]byte{0xef, 0xbb, 0xbf}, s...), "le": utf16LE(s), "be": utf16BE(s)} {
			if got, err := DecodeText(b); err != nil || got != s {
				t.Errorf("%s %q: %q %v", name, s, got, err)
			}
		}
	}
	if _, err := DecodeText([]byte{0xff, 0xfe, 'a'}); err == nil {
		t.Error("odd-length UTF-16 accepted")
	}
	if _, err := Parse(append(utf16LE("REGEDIT4\r\n[K]\r\n\"a\"=\"b"), 0)); err == nil || !strings.HasPrefix(err.Error(), "line 3: UTF-16") {
		t.Errorf("cut-short UTF-16: %v", err)
	}
	if got, _ := DecodeText([]byte{0xff, 0xfe, 0x00, 0xd8, 'a', 0, 0x00, 0xdc}); got != "\uFFFDa\uFFFD" {
		t.Errorf("unpaired surrogates: %q", got)
	}
	if got, _ := DecodeText([]byte("a\xffb")); got != "a\uFFFDb" {
		t.Errorf("invalid UTF-8: %q", got)
	}
}

// TestParseBounds checks the size and depth limits and that hostile shapes parse in linear time.
func TestParseBounds(t *testing.T) {
	if _, err := Parse(make([]byte, MaxSize+1)); err == nil {
		t.Error("oversized input accepted")
	}
	deep := "REGEDIT4\n[" + strings.Repeat(`a\`, maxDepth) + "a]\n"
	if _, err := Parse([]byte(deep)); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("too deep: %v", err)
	}
	long := "REGEDIT4\n[K]\n\"a\"=hex:" + strings.Repeat("00,\\\n", maxLogicalLine/3) + "00\n"
	if _, err := Parse([]byte(long)); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("too long: %v", err)
	}

	var b strings.Builder
	b.WriteString("REGEDIT4\n")
	path := strings.Repeat(`level\`, maxDepth-1) + "x"
	for i := 0; i < 2000; i++ { // many sections of one deep key, each deleting and re-adding it
		b.WriteString("[" + path + "]\n\"v\"=hex:" + strings.Repeat("ab,", 1000) + "\\\n  cd\n[-" + path[:len(path)/2] + "]\n")
	}
	b.WriteString("[" + path + "]\n\"" + strings.Repeat(`\\`, 1<<20) + "\"=\"x\"\n")
	start := time.Now()
	f, err := Parse([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := f.Value(path, strings.Repeat(`\`, 1<<20)); !ok || v.String != "x" {
		t.Error("long name lost")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("%d bytes took %v", b.Len(), d)
	}
}

// model applies a File's sections naively (quadratic, for the fuzz test to compare against).
type model struct {
	exists   map[string]string // lowercased path -> last spelling of its last level
	explicit map[string]bool
	vals     map[string]map[string]Value
}

func newModel(f *File) *model {
	m := &model{exists: map[string]string{}, explicit: map[string]bool{}, vals: map[string]map[string]Value{}}
	for _, k := range f.Keys {
		path := keyPath(k.Path)
		low := strings.ToLower(path)
		if k.Delete {
			for p := range m.exists {
				if p == low || strings.HasPrefix(p, low+`\`) {
					delete(m.exists, p)
					delete(m.explicit, p)
					delete(m.vals, p)
				}
			}
			continue
		}
		parts := strings.Split(path, `\`)
		for i := range parts {
			m.exists[strings.ToLower(strings.Join(parts[:i+1], `\`))] = parts[i]
		}
		m.explicit[low] = true
		if m.vals[low] == nil {
			m.vals[low] = map[string]Value{}
		}
		for _, v := range k.Values {
			if v.Delete {
				delete(m.vals[low], strings.ToLower(v.Name))
			} else {
				m.vals[low][strings.ToLower(v.Name)] = v
			}
		}
	}
	return m
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(sampleReg))
	f.Add(utf16LE(sampleReg))
	f.Add([]byte("REGEDIT4\n[K]\n\"a \\\"q\\\"\"=\"v\"\n@=-\n\"h\"=hex(2):41,00,\\\n  42,00\n\"d\"=dword:00000001\n"))
	f.Add([]byte("Windows Registry Editor Version 5.00\n[HKLM\\A\\B]\n\"x\"=hex(b):01,02,03,04,05,06,07,08\n[-HKEY_LOCAL_MACHINE\\A]\n[HKLM\\a\\c]\n\"m\"=hex(7):61,00,00,00\n\"x\"=-\n"))
	f.Add(utf16BE("Windows Registry Editor Version 5.00\r\n[HKU\\S]\r\n\"v\"=hex(4):01,00,00,00\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		text, derr := DecodeText(b)
		if derr == nil && !utf8.ValidString(text) {
			t.Fatal("DecodeText returned invalid UTF-8")
		}
		if len(b) >= 2 && (b[0] == 0xff && b[1] == 0xfe || b[0] == 0xfe && b[1] == 0xff) && len(b)%2 == 0 {
			u := make([]uint16, (len(b)-2)/2)
			for i := range u {
				if b[0] == 0xff {
					u[i] = binary.LittleEndian.Uint16(b[2+2*i:])
				} else {
					u[i] = binary.BigEndian.Uint16(b[2+2*i:])
				}
			}
			if want := string(utf16.Decode(u)); text != want {
				t.Fatalf("DecodeText %q, utf16.Decode %q", text, want)
			}
		}

		f, err := Parse(b)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "line ") {
				t.Fatalf("error names no line: %v", err)
			}
			return
		}
		if derr != nil {
			t.Fatalf("parsed undecodable text: %v", derr)
		}
		m := newModel(f)
		for _, k := range f.Keys {
			if k.Line < 1 || k.Delete && len(k.Values) != 0 {
				t.Fatalf("section %+v", k)
			}
			for _, v := range k.Values {
				if v.Line < k.Line || !v.Delete && v.Type != SZ && v.Type != DWord && v.Data == nil {
					t.Fatalf("value %+v in %+v", v, k)
				}
				if v.Data != nil {
					back, err := Parse([]byte("REGEDIT4\n[K]\n\"v\"=hex:" + hexList(v.Data) + "\n"))
					if err != nil || !bytes.Equal(back.Keys[0].Values[0].Data, v.Data) {
						t.Fatalf("hex data %x does not round-trip: %v", v.Data, err)
					}
				}
			}
			_, err := f.Subkeys(k.Path)
			low := strings.ToLower(keyPath(k.Path))
			if _, ok := m.exists[low]; ok != (err == nil) {
				t.Fatalf("Subkeys(%q): %v, model says exists=%v", k.Path, err, ok)
			}
			vals, err := f.Values(k.Path)
			if m.explicit[low] != (err == nil) {
				t.Fatalf("Values(%q): %v, model says explicit=%v", k.Path, err, m.explicit[low])
			}
			if err != nil {
				continue
			}
			want := map[string]any{}
			for _, v := range m.vals[low] {
				want[v.Name] = v.Any()
			}
			if !reflect.DeepEqual(vals, want) {
				t.Fatalf("Values(%q) = %#v, model %#v", k.Path, vals, want)
			}
		}
		for p, name := range m.exists {
			i := strings.LastIndexByte(p, '\\')
			if i < 0 || strings.HasSuffix(p[:i], `\`) {
				continue // a hive, or under an empty level that lookups cannot name
			}
			parent := p[:i]
			subs, err := f.Subkeys(parent)
			if err != nil || sort.SearchStrings(subs, name) == len(subs) || subs[sort.SearchStrings(subs, name)] != name {
				t.Fatalf("Subkeys(%q) = %q %v, model has %q", parent, subs, err, name)
			}
		}
	})
}

func hexList(b []byte) string {
	var s strings.Builder
	for i, c := range b {
		if i > 0 {
			s.WriteByte(',')
		}
		s.WriteString(strings.ToLower(string("0123456789abcdef"[c>>4]) + string("0123456789abcdef"[c&15])))
	}
	return s.String()
}
