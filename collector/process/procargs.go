package process

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
)

// parseProcArgs2 decodes the macOS sysctl kern.procargs2 buffer of a process: a native-endian
// int32 argc, the executable path ended by NUL, NUL padding, then argc NUL-ended arguments,
// then the environment (which is never decoded: Vigil does not collect it). It returns the
// executable path and the command line (arguments joined by spaces, at most maxCmd bytes).
func parseProcArgs2(buf []byte, maxCmd int) (exe, cmdline string, err error) {
	if len(buf) < 4 {
		return "", "", fmt.Errorf("procargs2: %d bytes, need at least 4 for argc", len(buf))
	}
	argc := int(int32(binary.NativeEndian.Uint32(buf)))
	if argc < 0 || argc > len(buf) {
		return "", "", fmt.Errorf("procargs2: field argc: %d is impossible for a %d-byte buffer", argc, len(buf))
	}
	rest := buf[4:]
	i := bytes.IndexByte(rest, 0)
	if i < 0 {
		return "", "", fmt.Errorf("procargs2: executable path not terminated")
	}
	exe, rest = string(rest[:i]), rest[i:]
	for len(rest) > 0 && rest[0] == 0 {
		rest = rest[1:]
	}
	var b strings.Builder
	for n := 0; n < argc && len(rest) > 0; n++ {
		arg := rest
		if j := bytes.IndexByte(rest, 0); j >= 0 {
			arg, rest = rest[:j], rest[j+1:]
		} else {
			rest = nil
		}
		if n > 0 {
			b.WriteByte(' ')
		}
		b.Write(arg)
		if b.Len() >= maxCmd {
			break
		}
	}
	cmdline = b.String()
	if len(cmdline) > maxCmd {
		cmdline = cmdline[:maxCmd]
	}
	return exe, cmdline, nil
}
