package display

import (
	"errors"
	"strings"

	"github.com/vigilhq/vigil/collector/winreg"
)

// DisplaysFromRegFile reads the EDIDs of a .reg export of HKLM\SYSTEM\CurrentControlSet\Enum\
// DISPLAY: every ...\DISPLAY\<PnPID>\<instance>\Device Parameters key with an EDID value, in
// file order (a key written twice counts once; deleted keys and values are left out). The
// connector is DISPLAY\<PnPID>\<instance>. An export without the DISPLAY key is an error.
func DisplaysFromRegFile(raw []byte) ([]Display, error) {
	f, err := winreg.Parse(raw)
	if err != nil {
		return nil, err
	}
	var out []Display
	seen := map[string]bool{}
	display := false // the export holds the DISPLAY key or keys below it
	for i := range f.Keys {
		k := &f.Keys[i]
		parts := strings.Split(k.Path, `\`)
		n := len(parts)
		for j := 1; j < n && !display; j++ {
			display = strings.EqualFold(parts[j-1], "Enum") && strings.EqualFold(parts[j], "DISPLAY")
		}
		if k.Delete || n < 4 || !strings.EqualFold(parts[n-1], "Device Parameters") || !strings.EqualFold(parts[n-4], "DISPLAY") {
			continue
		}
		id := strings.ToLower(winreg.NormalizeHive(k.Path))
		if seen[id] {
			continue
		}
		seen[id] = true
		v, ok := f.Value(k.Path, "EDID")
		if !ok || v.Data == nil {
			continue
		}
		out = append(out, FromEDID(strings.Join(parts[n-4:n-1], `\`), v.Data))
	}
	if !display {
		return nil, errors.New(`no key under ...\Enum\DISPLAY: not an export of HKLM\SYSTEM\CurrentControlSet\Enum\DISPLAY`)
	}
	return out, nil
}
