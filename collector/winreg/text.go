package winreg

import (
	"errors"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// DecodeText turns UTF-16 text with a byte-order mark (little-endian as reg export and
// PowerShell's > write it, or big-endian) or UTF-8 text (with or without a BOM) into a string.
// Unpaired surrogates and invalid UTF-8 become U+FFFD; UTF-16 with an odd number of bytes is
// an error.
func DecodeText(b []byte) (string, error) {
	if len(b) >= 2 && (b[0] == 0xff && b[1] == 0xfe || b[0] == 0xfe && b[1] == 0xff) {
		be := b[0] == 0xfe
		if len(b)%2 != 0 {
			return "", errors.New("UTF-16 text with an odd number of bytes")
		}
		return decodeUTF16(b[2:], be), nil
	}
	b = trimUTF8BOM(b)
	if !utf8.Valid(b) {
		return strings.ToValidUTF8(string(b), "\uFFFD"), nil
	}
	return string(b), nil
}

func trimUTF8BOM(b []byte) []byte {
	if len(b) >= 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf {
		return b[3:]
	}
	return b
}

// decodeUTF16 decodes UTF-16 code units (a trailing odd byte is ignored) the way utf16.Decode
// does, without the intermediate []uint16 and []rune.
func decodeUTF16(b []byte, be bool) string {
	unit := func(i int) rune {
		if be {
			return rune(b[i])<<8 | rune(b[i+1])
		}
		return rune(b[i]) | rune(b[i+1])<<8
	}
	var sb strings.Builder
	sb.Grow(len(b) / 2)
	for i := 0; i+1 < len(b); i += 2 {
		r := unit(i)
		if 0xd800 <= r && r < 0xdc00 && i+3 < len(b) {
			if r2 := unit(i + 2); 0xdc00 <= r2 && r2 < 0xe000 {
				r = utf16.DecodeRune(r, r2)
				i += 2
			}
		}
		if utf16.IsSurrogate(r) {
			r = utf8.RuneError
		}
		sb.WriteRune(r)
	}
	return sb.String()
}
