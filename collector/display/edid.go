package display

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// EDID is the identity part of an EDID base block (VESA E-EDID 1.3/1.4).
type EDID struct {
	Manufacturer string // three-letter PnP ID ("LNX")
	Product      uint16 // product code (stored little-endian)
	Serial       uint32 // serial number field (stored little-endian)
	Week         int    // week of manufacture; 0 unspecified, 255 means Year is a model year
	Year         int    // year of manufacture (or model year)
	Version      int
	Revision     int
	MonitorName  string // 0xFC descriptor
	SerialString string // 0xFF descriptor
	Text         string // 0xFE descriptor (first one)
	Extensions   int    // extension block count the base block declares
}

// PnpID is the manufacturer and product code as Windows names the monitor ("LNX7773").
func (e *EDID) PnpID() string { return fmt.Sprintf("%s%04X", e.Manufacturer, e.Product) }

// Errors ParseEDID returns, wrapped with details; test with errors.Is.
var (
	ErrShort    = errors.New("EDID too short")
	ErrHeader   = errors.New("EDID header is not 00 FF FF FF FF FF FF 00")
	ErrChecksum = errors.New("EDID checksum wrong")
)

var edidHeader = []byte{0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00}

// ParseEDID decodes an EDID's base block; extension blocks after it are tolerated and not
// read. A block shorter than 128 bytes or with a wrong header gives a nil EDID and an error. A
// wrong checksum gives the decoded fields and an error wrapping ErrChecksum, because a
// tampered or badly programmed EDID still says what it claims to be.
func ParseEDID(b []byte) (*EDID, error) {
	if len(b) < 128 {
		return nil, fmt.Errorf("%w: %d bytes, a base block is 128", ErrShort, len(b))
	}
	if !bytes.Equal(b[:8], edidHeader) {
		return nil, fmt.Errorf("%w: % x", ErrHeader, b[:8])
	}
	e := &EDID{
		Manufacturer: pnpLetters(binary.BigEndian.Uint16(b[8:10])),
		Product:      binary.LittleEndian.Uint16(b[10:12]),
		Serial:       binary.LittleEndian.Uint32(b[12:16]),
		Week:         int(b[16]),
		Year:         int(b[17]) + 1990,
		Version:      int(b[18]),
		Revision:     int(b[19]),
		Extensions:   int(b[126]),
	}
	for off := 54; off <= 108; off += 18 {
		d := b[off : off+18]
		if d[0] != 0 || d[1] != 0 || d[2] != 0 || d[4] != 0 {
			continue // a detailed timing, not a display descriptor
		}
		txt := descriptorText(d[5:18])
		switch d[3] {
		case 0xfc:
			e.MonitorName += txt // some monitors split a long name over two descriptors
		case 0xff:
			if e.SerialString == "" {
				e.SerialString = txt
			}
		case 0xfe:
			if e.Text == "" {
				e.Text = txt
			}
		}
	}
	var sum byte
	for _, c := range b[:128] {
		sum += c
	}
	if sum != 0 {
		return e, fmt.Errorf("%w: the 128 base bytes sum to %d mod 256, want 0 (byte 127 is 0x%02x)", ErrChecksum, sum, b[127])
	}
	return e, nil
}

// pnpLetters decodes the manufacturer ID: three 5-bit letters, 1 = 'A'. Out-of-range values
// come out as '?'.
func pnpLetters(v uint16) string {
	var s [3]byte
	for i := 0; i < 3; i++ {
		c := (v >> (10 - 5*i)) & 0x1f
		if c >= 1 && c <= 26 {
			s[i] = byte('A' + c - 1)
		} else {
			s[i] = '?'
		}
	}
	return string(s[:])
}

// pnpCode encodes three letters back into the 16-bit manufacturer ID.
func pnpCode(s string) (uint16, bool) {
	if len(s) != 3 {
		return 0, false
	}
	var v uint16
	for i := 0; i < 3; i++ {
		c := s[i]
		if c < 'A' || c > 'Z' {
			return 0, false
		}
		v = v<<5 | uint16(c-'A'+1)
	}
	return v, true
}

// descriptorText reads a 13-byte descriptor string: ended by 0x0A, padded with spaces. Bytes
// outside printable ASCII become '?', so the result is always valid UTF-8.
func descriptorText(b []byte) string {
	if i := bytes.IndexByte(b, 0x0a); i >= 0 {
		b = b[:i]
	}
	out := make([]byte, len(b))
	for i, c := range b {
		if c >= 0x20 && c < 0x7f {
			out[i] = c
		} else if c == 0 {
			out[i] = ' '
		} else {
			out[i] = '?'
		}
	}
	return strings.TrimSpace(string(out))
}
