package host

import (
	"sort"
	"strconv"
	"strings"

	"github.com/vigilhq/vigil/collector/winreg"
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

// RegExport is a parsed regedit export; it implements Registry.
type RegExport = winreg.File

var _ Registry = (*RegExport)(nil)

// ParseRegExport parses a regedit export ("Windows Registry Editor Version 5.00" or "REGEDIT4"),
// UTF-16 with BOM (as regedit writes it) or UTF-8. Errors name the line.
func ParseRegExport(b []byte) (*RegExport, error) {
	return winreg.Parse(b)
}

// regValue returns one value (case-insensitive name) of key.
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
