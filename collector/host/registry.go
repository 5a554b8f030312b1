package host

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
)

// Registry is a read-only view of the Windows registry: the live registry on Windows, or a
// regedit export (.reg) parsed on any OS. Key paths start with the hive's long name
// ("HKEY_USERS\S-1-5-21-...\Keyboard Layout\Preload") and compare case-insensitively.
type Registry interface {
	// Subkeys lists the names of key's direct subkeys.
	Subkeys(key string) ([]string, error)
	// Values returns key's values: REG_SZ/REG_EXPAND_SZ as string, REG_MULTI_SZ as []string,
	// REG_DWORD/REG_QWORD as uint64, other types as []byte.
	Values(key string) (map[string]any, error)
}

// RegExport is a parsed regedit export.
type RegExport struct {
	keys map[string]map[string]any // lowercased key path -> values
	subs map[string]map[string]string
}

// ParseRegExport parses a regedit export ("Windows Registry Editor Version 5.00" or "REGEDIT4"),
// UTF-16LE with BOM (as regedit writes it) or UTF-8. Errors name the line.
func ParseRegExport(b []byte) (*RegExport, error) {
	text, err := decodeRegText(b)
	if err != nil {
		return nil, err
	}
	r := &RegExport{keys: map[string]map[string]any{}, subs: map[string]map[string]string{}}
	ls := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	if len(ls) == 0 || !(strings.HasPrefix(strings.TrimSpace(ls[0]), "Windows Registry Editor Version") || strings.TrimSpace(ls[0]) == "REGEDIT4") {
		return nil, fmt.Errorf("reg export line 1: not a regedit export header")
	}
	var cur string
	for i := 1; i < len(ls); i++ {
		line := strings.TrimSpace(ls[i])
		start := i + 1
		for strings.HasSuffix(line, `\`) && i+1 < len(ls) { // continuation lines of hex data
			i++
			line = strings.TrimSuffix(line, `\`) + strings.TrimSpace(ls[i])
		}
		switch {
		case line == "" || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "["):
			if !strings.HasSuffix(line, "]") {
				return nil, fmt.Errorf("reg export line %d: unterminated key", start)
			}
			name := line[1 : len(line)-1]
			if strings.HasPrefix(name, "-") {
				cur = "" // a deletion: ignore its values
				continue
			}
			cur = r.addKey(name)
		default:
			if cur == "" {
				continue
			}
			name, val, err := parseRegValue(line)
			if err != nil {
				return nil, fmt.Errorf("reg export line %d: %w", start, err)
			}
			r.keys[cur][name] = val
		}
	}
	return r, nil
}

func decodeRegText(b []byte) (string, error) {
	if len(b) >= 2 && b[0] == 0xFF && b[1] == 0xFE {
		b = b[2:]
		if len(b)%2 != 0 {
			b = b[:len(b)-1]
		}
		u := make([]uint16, len(b)/2)
		for i := range u {
			u[i] = binary.LittleEndian.Uint16(b[2*i:])
		}
		return string(utf16.Decode(u)), nil
	}
	return string(bytes.TrimPrefix(b, []byte("\xEF\xBB\xBF"))), nil
}

func (r *RegExport) addKey(name string) string {
	name = normHive(name)
	low := strings.ToLower(name)
	if r.keys[low] == nil {
		r.keys[low] = map[string]any{}
	}
	// Register the key with each ancestor, so exports that skip intermediate keys still list.
	for {
		i := strings.LastIndex(name, `\`)
		if i < 0 {
			break
		}
		parent, child := strings.ToLower(name[:i]), name[i+1:]
		if r.subs[parent] == nil {
			r.subs[parent] = map[string]string{}
		}
		r.subs[parent][strings.ToLower(child)] = child
		name = name[:i]
	}
	return low
}

// normHive expands short hive names (HKLM, HKU, HKCU).
func normHive(k string) string {
	hive, rest, _ := strings.Cut(k, `\`)
	switch strings.ToUpper(hive) {
	case "HKLM":
		hive = "HKEY_LOCAL_MACHINE"
	case "HKU":
		hive = "HKEY_USERS"
	case "HKCU":
		hive = "HKEY_CURRENT_USER"
	}
	if rest == "" {
		return hive
	}
	return hive + `\` + rest
}

// parseRegValue parses `"name"=...` or `@=...`.
func parseRegValue(line string) (string, any, error) {
	var name string
	if strings.HasPrefix(line, "@=") {
		line = line[2:]
	} else {
		n, rest, err := regQuoted(line)
		if err != nil {
			return "", nil, fmt.Errorf("value name: %w", err)
		}
		if !strings.HasPrefix(rest, "=") {
			return "", nil, fmt.Errorf("value %q: missing '='", n)
		}
		name, line = n, rest[1:]
	}
	switch {
	case strings.HasPrefix(line, `"`):
		s, _, err := regQuoted(line)
		if err != nil {
			return "", nil, fmt.Errorf("value %q: %w", name, err)
		}
		return name, s, nil
	case strings.HasPrefix(line, "dword:"):
		v, err := strconv.ParseUint(strings.TrimPrefix(line, "dword:"), 16, 32)
		if err != nil {
			return "", nil, fmt.Errorf("value %q: dword: %w", name, err)
		}
		return name, v, nil
	case strings.HasPrefix(line, "hex"):
		typ := "3"
		rest := strings.TrimPrefix(line, "hex")
		if strings.HasPrefix(rest, "(") {
			end := strings.Index(rest, ")")
			if end < 0 {
				return "", nil, fmt.Errorf("value %q: bad hex type", name)
			}
			typ, rest = rest[1:end], rest[end+1:]
		}
		if !strings.HasPrefix(rest, ":") {
			return "", nil, fmt.Errorf("value %q: missing ':' after hex", name)
		}
		raw, err := hex.DecodeString(strings.ReplaceAll(strings.ReplaceAll(rest[1:], ",", ""), " ", ""))
		if err != nil {
			return "", nil, fmt.Errorf("value %q: hex data: %w", name, err)
		}
		switch typ {
		case "2", "1": // REG_EXPAND_SZ, REG_SZ as UTF-16LE
			return name, utf16String(raw), nil
		case "7": // REG_MULTI_SZ
			var out []string
			for _, s := range strings.Split(utf16String(raw), "\x00") {
				if s != "" {
					out = append(out, s)
				}
			}
			return name, out, nil
		case "b": // REG_QWORD
			if len(raw) != 8 {
				return "", nil, fmt.Errorf("value %q: qword of %d bytes", name, len(raw))
			}
			return name, binary.LittleEndian.Uint64(raw), nil
		}
		return name, raw, nil
	}
	return "", nil, fmt.Errorf("value %q: unknown data %q", name, truncate(line, 20))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func utf16String(raw []byte) string {
	u := make([]uint16, len(raw)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(raw[2*i:])
	}
	return strings.TrimRight(string(utf16.Decode(u)), "\x00")
}

// regQuoted reads a "..." string with \\ and \" escapes and returns the rest of the line.
func regQuoted(s string) (string, string, error) {
	if !strings.HasPrefix(s, `"`) {
		return "", "", fmt.Errorf("want a quoted string at %q", truncate(s, 20))
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), s[i+1:], nil
		default:
			b.WriteByte(s[i])
		}
	}
	return "", "", fmt.Errorf("unterminated string")
}

// Subkeys implements Registry.
func (r *RegExport) Subkeys(key string) ([]string, error) {
	m, ok := r.subs[strings.ToLower(normHive(key))]
	if !ok {
		if _, isKey := r.keys[strings.ToLower(normHive(key))]; !isKey {
			return nil, fmt.Errorf("registry key %s: not in export", key)
		}
	}
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	sort.Strings(out)
	return out, nil
}

// Values implements Registry.
func (r *RegExport) Values(key string) (map[string]any, error) {
	v, ok := r.keys[strings.ToLower(normHive(key))]
	if !ok {
		return nil, fmt.Errorf("registry key %s: not in export", key)
	}
	return v, nil
}

// value returns one value (case-insensitive name) of key.
func regValue(r Registry, key, name string) any {
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

func regString(r Registry, key, name string) string {
	s, _ := regValue(r, key, name).(string)
	return s
}

// knownTIPs names common text input processors (language:{CLSID}{profile GUID}) by CLSID.
var knownTIPs = map[string]string{
	"{A028AE76-01B1-46C2-99C4-ACD9858AE02F}": "Microsoft Korean IME",
	"{03B5835F-F03C-411B-9CE2-AA23E1171E36}": "Microsoft Japanese IME",
	"{81D4E9C9-1D3B-41BC-9E6C-4B40BF79E35E}": "Microsoft Pinyin (Simplified Chinese)",
	"{B115690A-EA02-48D5-A231-E3578D2FDF80}": "Microsoft Bopomofo (Traditional Chinese)",
}

// TIPName returns a friendly name for a TIP string such as
// "0412:{A028AE76-01B1-46C2-99C4-ACD9858AE02F}{B5FE1F02-D5F2-4445-9C03-C568F23C99A1}", or "".
func TIPName(tip string) string {
	_, rest, ok := strings.Cut(tip, ":")
	if !ok || len(rest) < 38 {
		return ""
	}
	return knownTIPs[strings.ToUpper(rest[:38])]
}

// WindowsInput reads keyboard layouts and input methods of every user hive in HKEY_USERS:
// Keyboard Layout\Preload values (KLIDs such as 00000412) and the TIPs enabled per language under
// Control Panel\International\User Profile\<lang> (value names "0412:{CLSID}{profile}"), plus the
// locale (Control Panel\International LocaleName) of the first user that has one.
func WindowsInput(r Registry) (layouts, ims []string, locale string) {
	sids, _ := r.Subkeys(`HKEY_USERS`)
	for _, sid := range sids {
		if strings.HasSuffix(strings.ToLower(sid), "_classes") {
			continue
		}
		base := `HKEY_USERS\` + sid
		if vals, err := r.Values(base + `\Keyboard Layout\Preload`); err == nil {
			names := make([]string, 0, len(vals))
			for k := range vals {
				names = append(names, k)
			}
			sort.Slice(names, func(i, j int) bool { // "1", "2", ... "10" in numeric order
				a, _ := strconv.Atoi(names[i])
				b, _ := strconv.Atoi(names[j])
				return a < b
			})
			for _, k := range names {
				if s, ok := vals[k].(string); ok && s != "" {
					layouts = append(layouts, strings.ToLower(s))
				}
			}
		}
		prof := base + `\Control Panel\International\User Profile`
		langs, _ := r.Subkeys(prof)
		for _, lang := range langs {
			vals, err := r.Values(prof + `\` + lang)
			if err != nil {
				continue
			}
			var tips []string
			for k := range vals {
				if strings.Contains(k, ":{") {
					tips = append(tips, strings.ToUpper(k))
				}
			}
			sort.Strings(tips)
			ims = append(ims, tips...)
		}
		if locale == "" {
			locale = regString(r, base+`\Control Panel\International`, "LocaleName")
		}
	}
	return layouts, ims, locale
}

// WindowsTimezone returns the IANA zone for TimeZoneKeyName under
// HKLM\SYSTEM\CurrentControlSet\Control\TimeZoneInformation, and the Windows name itself.
func WindowsTimezone(r Registry) (iana, windowsName string) {
	windowsName = regString(r, `HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\TimeZoneInformation`, "TimeZoneKeyName")
	return windowsZones[windowsName], windowsName
}

// WindowsVersion returns "Windows 11 Pro 23H2 (22631)" from CurrentVersion. Windows 11 still says
// "Windows 10" in ProductName; build 22000 and later is Windows 11.
func WindowsVersion(r Registry) string {
	const k = `HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion`
	name, disp, build := regString(r, k, "ProductName"), regString(r, k, "DisplayVersion"), regString(r, k, "CurrentBuild")
	if n, err := strconv.Atoi(build); err == nil && n >= 22000 {
		name = strings.Replace(name, "Windows 10", "Windows 11", 1)
	}
	s := strings.TrimSpace(name + " " + disp)
	if build != "" {
		s += " (" + build + ")"
	}
	return s
}

// WindowsHostname returns ComputerName from the registry.
func WindowsHostname(r Registry) string {
	return regString(r, `HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\ComputerName\ComputerName`, "ComputerName")
}

// windowsZones maps common Windows time zone key names to IANA zones (CLDR windowsZones, the
// "001" territory of each).
var windowsZones = map[string]string{
	"Dateline Standard Time": "Etc/GMT+12", "UTC-11": "Etc/GMT+11", "Hawaiian Standard Time": "Pacific/Honolulu",
	"Alaskan Standard Time": "America/Anchorage", "Pacific Standard Time": "America/Los_Angeles",
	"US Mountain Standard Time": "America/Phoenix", "Mountain Standard Time": "America/Denver",
	"Central Standard Time": "America/Chicago", "Central America Standard Time": "America/Guatemala",
	"Canada Central Standard Time": "America/Regina", "Central Standard Time (Mexico)": "America/Mexico_City",
	"Eastern Standard Time": "America/New_York", "SA Pacific Standard Time": "America/Bogota",
	"Atlantic Standard Time": "America/Halifax", "SA Western Standard Time": "America/La_Paz",
	"Pacific SA Standard Time": "America/Santiago", "Newfoundland Standard Time": "America/St_Johns",
	"E. South America Standard Time": "America/Sao_Paulo", "Argentina Standard Time": "America/Buenos_Aires",
	"UTC": "Etc/UTC", "GMT Standard Time": "Europe/London", "Greenwich Standard Time": "Atlantic/Reykjavik",
	"W. Europe Standard Time": "Europe/Berlin", "Central Europe Standard Time": "Europe/Budapest",
	"Romance Standard Time": "Europe/Paris", "Central European Standard Time": "Europe/Warsaw",
	"W. Central Africa Standard Time": "Africa/Lagos", "GTB Standard Time": "Europe/Bucharest",
	"FLE Standard Time": "Europe/Kiev", "Israel Standard Time": "Asia/Jerusalem",
	"South Africa Standard Time": "Africa/Johannesburg", "Egypt Standard Time": "Africa/Cairo",
	"Turkey Standard Time": "Europe/Istanbul", "Russian Standard Time": "Europe/Moscow",
	"Arab Standard Time": "Asia/Riyadh", "Arabian Standard Time": "Asia/Dubai", "Iran Standard Time": "Asia/Tehran",
	"Pakistan Standard Time": "Asia/Karachi", "India Standard Time": "Asia/Calcutta",
	"Nepal Standard Time": "Asia/Katmandu", "Bangladesh Standard Time": "Asia/Dhaka",
	"SE Asia Standard Time": "Asia/Bangkok", "China Standard Time": "Asia/Shanghai",
	"Singapore Standard Time": "Asia/Singapore", "Taipei Standard Time": "Asia/Taipei",
	"W. Australia Standard Time": "Australia/Perth", "Korea Standard Time": "Asia/Seoul",
	"North Korea Standard Time": "Asia/Pyongyang", "Tokyo Standard Time": "Asia/Tokyo",
	"AUS Eastern Standard Time": "Australia/Sydney", "Vladivostok Standard Time": "Asia/Vladivostok",
	"New Zealand Standard Time": "Pacific/Auckland", "Ulaanbaatar Standard Time": "Asia/Ulaanbaatar",
	"Russia Time Zone 3": "Europe/Samara", "Ekaterinburg Standard Time": "Asia/Yekaterinburg",
	"N. Central Asia Standard Time": "Asia/Novosibirsk", "North Asia Standard Time": "Asia/Krasnoyarsk",
	"North Asia East Standard Time": "Asia/Irkutsk", "Yakutsk Standard Time": "Asia/Yakutsk",
	"Magadan Standard Time": "Asia/Magadan", "Central Asia Standard Time": "Asia/Almaty",
	"West Asia Standard Time": "Asia/Tashkent", "Myanmar Standard Time": "Asia/Rangoon",
	"E. Europe Standard Time": "Europe/Chisinau", "Belarus Standard Time": "Europe/Minsk",
	"Venezuela Standard Time": "America/Caracas", "Cuba Standard Time": "America/Havana",
	"Philippines Standard Time": "Asia/Manila", "Sri Lanka Standard Time": "Asia/Colombo",
}
