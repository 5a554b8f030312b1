package ingest

import (
	"net"
	"strings"
)

// normalizeFact writes MAC addresses one way (lower case, colons), so that "AA-BB-..." from a
// Windows laptop and "aa:bb:..." from a Linux one group together.
func normalizeFact(key, v string) string {
	switch key {
	case FactGatewayMac, FactWifiBssid:
		return NormalizeMAC(v)
	}
	return strings.TrimSpace(v)
}

// NormalizeMAC returns a MAC address in lower case with colons, or s trimmed and lower-cased when
// it does not parse as one.
func NormalizeMAC(s string) string {
	s = strings.TrimSpace(s)
	if hw, err := net.ParseMAC(s); err == nil {
		return hw.String()
	}
	return strings.ToLower(s)
}
