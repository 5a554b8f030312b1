package host

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
)

// Session is one logged-in session.
type Session struct {
	User, Tty, Host string
}

// ParseUtmp parses glibc's utmp records (384 bytes each on 64-bit and 32-bit Linux alike),
// keeping USER_PROCESS entries.
func ParseUtmp(b []byte) ([]Session, error) {
	const recLen = 384
	if len(b)%recLen != 0 {
		return nil, fmt.Errorf("utmp: %d bytes is not a whole number of %d-byte records", len(b), recLen)
	}
	var out []Session
	for off := 0; off+recLen <= len(b); off += recLen {
		r := b[off : off+recLen]
		if binary.LittleEndian.Uint16(r[0:2]) != 7 { // USER_PROCESS
			continue
		}
		cstr := func(x []byte) string {
			if i := bytes.IndexByte(x, 0); i >= 0 {
				x = x[:i]
			}
			return strings.ToValidUTF8(string(x), "?")
		}
		out = append(out, Session{Tty: cstr(r[8:40]), User: cstr(r[44:76]), Host: cstr(r[76:332])})
	}
	return out, nil
}
