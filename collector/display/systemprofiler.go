package display

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// DisplaysFromSystemProfiler reads `system_profiler SPDisplaysDataType -json`: each GPU's
// spdisplays_ndrvs entries. An entry with _spdisplays_edid (hex) is decoded from it; otherwise
// the identity comes from _spdisplays_display-vendor-id (the 16-bit PnP code, in hex),
// -product-id, -serial-number (hex), -week and -year, and _name.
func DisplaysFromSystemProfiler(raw []byte) ([]Display, error) {
	var doc struct {
		SP []struct {
			Name     string           `json:"_name"`
			Displays []map[string]any `json:"spdisplays_ndrvs"`
		} `json:"SPDisplaysDataType"`
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("a JSON %s, not an object: not system_profiler SPDisplaysDataType -json output", te.Value)
		}
		return nil, fmt.Errorf("system_profiler JSON: %w", err)
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("SPDisplaysDataType: %s: not system_profiler SPDisplaysDataType -json output", jsonShape(err))
	}
	if doc.SP == nil {
		return nil, errors.New("no SPDisplaysDataType array: not system_profiler SPDisplaysDataType -json output")
	}
	var out []Display
	for _, gpu := range doc.SP {
		for i, d := range gpu.Displays {
			str := func(k string) string { s, _ := d[k].(string); return s }
			conn := gpu.Name + "/" + strconv.Itoa(i)
			if c := str("spdisplays_connection_type"); c != "" {
				conn += " " + c
			}
			if h := str("_spdisplays_edid"); h != "" {
				b, err := hex.DecodeString(strings.TrimPrefix(strings.TrimPrefix(h, "0x"), "0X"))
				if err != nil {
					out = append(out, Display{Connector: conn, Err: fmt.Errorf("_spdisplays_edid of %q: %w", str("_name"), err)})
					continue
				}
				out = append(out, FromEDID(conn, b))
				continue
			}
			e := &EDID{MonitorName: str("_name")}
			num := func(k string, base, bits int) (uint64, bool) {
				s := str(k)
				if s == "" {
					return 0, false
				}
				n, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), base, bits)
				return n, err == nil
			}
			if n, ok := num("_spdisplays_display-vendor-id", 16, 16); ok {
				e.Manufacturer = pnpLetters(uint16(n))
			}
			if n, ok := num("_spdisplays_display-product-id", 16, 16); ok {
				e.Product = uint16(n)
			}
			if n, ok := num("_spdisplays_display-serial-number", 16, 32); ok {
				e.Serial = uint32(n)
			}
			if n, ok := num("_spdisplays_display-week", 10, 8); ok {
				e.Week = int(n)
			}
			if n, ok := num("_spdisplays_display-year", 10, 16); ok && n > 1990 {
				e.Year = int(n)
			}
			out = append(out, Display{Connector: conn, EDID: e})
		}
	}
	return out, nil
}

// jsonShape says what a decoding error found in the schema's words (the field and the JSON type),
// never naming Go types.
func jsonShape(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return fmt.Sprintf("field %s is a JSON %s", te.Field, te.Value)
		}
		return "a JSON " + te.Value
	}
	return err.Error()
}
