package correlate

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// lookup finds a field: the flat key first, then, for a dotted name, a path through nested maps
// (at each level the rest of the name is also tried as one flat key). A nil value counts as
// absent.
func lookup(fields map[string]any, name string) (any, bool) {
	v, ok := fields[name]
	if ok {
		return v, v != nil
	}
	m, rest := fields, name
	for {
		i := strings.IndexByte(rest, '.')
		if i < 0 {
			return nil, false
		}
		next, ok := m[rest[:i]].(map[string]any)
		if !ok {
			return nil, false
		}
		m, rest = next, rest[i+1:]
		if v, ok := m[rest]; ok {
			return v, v != nil
		}
	}
}

// appendValue appends the string form of a field value used for grouping and distinct values:
// strings as they are, numbers in plain decimal (so 4624, 4624.0, "4624" and json.Number("4624")
// are one value), booleans as true/false, lists and maps as JSON. nil is absent.
func appendValue(dst []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case nil:
		return dst, false
	case string:
		return append(dst, x...), true
	case json.Number:
		if f, err := strconv.ParseFloat(string(x), 64); err == nil && !math.IsInf(f, 0) {
			return appendFloat(dst, f), true
		}
		return append(dst, x...), true
	case bool:
		return strconv.AppendBool(dst, x), true
	case int:
		return strconv.AppendInt(dst, int64(x), 10), true
	case int8:
		return strconv.AppendInt(dst, int64(x), 10), true
	case int16:
		return strconv.AppendInt(dst, int64(x), 10), true
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), true
	case int64:
		return strconv.AppendInt(dst, x, 10), true
	case uint:
		return strconv.AppendUint(dst, uint64(x), 10), true
	case uint8:
		return strconv.AppendUint(dst, uint64(x), 10), true
	case uint16:
		return strconv.AppendUint(dst, uint64(x), 10), true
	case uint32:
		return strconv.AppendUint(dst, uint64(x), 10), true
	case uint64:
		return strconv.AppendUint(dst, x, 10), true
	case float32:
		return appendFloat(dst, float64(x)), true
	case float64:
		return appendFloat(dst, x), true
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Append(dst, v), true
	}
	return append(dst, b...), true
}

// appendFloat writes integral values without exponent or fraction (1e6 -> "1000000") and others
// in the shortest form that round-trips.
func appendFloat(dst []byte, f float64) []byte {
	if f == math.Trunc(f) && math.Abs(f) < 1e21 {
		return strconv.AppendFloat(dst, f, 'f', -1, 64)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, 64)
}

// toFloat reads a numeric field: numbers, json.Number, and strings holding a decimal number or a
// 0x/0o/0b integer (surrounding spaces allowed). Booleans, other types and non-finite values
// are not numeric.
func toFloat(v any) (float64, bool) {
	var f float64
	switch x := v.(type) {
	case int:
		f = float64(x)
	case int8:
		f = float64(x)
	case int16:
		f = float64(x)
	case int32:
		f = float64(x)
	case int64:
		f = float64(x)
	case uint:
		f = float64(x)
	case uint8:
		f = float64(x)
	case uint16:
		f = float64(x)
	case uint32:
		f = float64(x)
	case uint64:
		f = float64(x)
	case float32:
		f = float64(x)
	case float64:
		f = x
	case json.Number:
		return parseNumber(string(x))
	case string:
		return parseNumber(x)
	default:
		return 0, false
	}
	return f, !math.IsNaN(f) && !math.IsInf(f, 0)
}

func parseNumber(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	if strings.IndexByte(s, '_') >= 0 {
		return 0, false // Go digit separators are not how logs write numbers
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || strings.ContainsAny(s, "xXpP") {
			return 0, false // ParseFloat's Inf/NaN words and hex floats are not plain numbers
		}
		return f, true
	}
	if i, err := strconv.ParseInt(s, 0, 64); err == nil {
		return float64(i), true
	}
	if u, err := strconv.ParseUint(s, 0, 64); err == nil {
		return float64(u), true
	}
	return 0, false
}
