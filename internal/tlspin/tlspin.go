// Package tlspin makes TLS client configurations that trust a server by the SHA-256 pin of its
// CA certificate ("sha256:HEX", as `vigil server` prints it), so that agents and the load
// generator need no copy of the CA beforehand: the CA the server presents in its chain is trusted
// when its pin matches, and the server's certificate must then verify against it (host name
// included) as usual.
package tlspin

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Parse checks a pin and returns its 32 bytes.
func Parse(pin string) ([]byte, error) {
	hexPart, ok := strings.CutPrefix(strings.ToLower(strings.TrimSpace(pin)), "sha256:")
	if !ok {
		return nil, fmt.Errorf("CA pin %q: want sha256:HEX", pin)
	}
	b, err := hex.DecodeString(strings.ReplaceAll(hexPart, ":", "")) // openssl prints AB:CD:...
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("CA pin %q: want sha256: and 64 hex digits", pin)
	}
	return b, nil
}

// Config returns a client configuration for serverName trusting the CA of that pin.
func Config(pin, serverName string) (*tls.Config, error) {
	want, err := Parse(pin)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		ServerName: serverName,
		// The chain is verified below against the pinned CA instead of the system roots.
		InsecureSkipVerify: true, //nolint:gosec // verified in VerifyConnection
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verify(cs, want, serverName)
		},
	}, nil
}

func verify(cs tls.ConnectionState, want []byte, serverName string) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("tls pin: the server sent no certificate")
	}
	roots := x509.NewCertPool()
	found := false
	for _, c := range cs.PeerCertificates {
		sum := sha256.Sum256(c.Raw)
		if string(sum[:]) == string(want) {
			roots.AddCert(c)
			found = true
		}
	}
	if !found {
		return errors.New("tls pin: no certificate of the server's chain matches the CA pin")
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{DNSName: serverName, Roots: roots, Intermediates: inter})
	if err != nil {
		return fmt.Errorf("tls pin: %w", err)
	}
	return nil
}
