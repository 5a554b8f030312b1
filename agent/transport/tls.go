package transport

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// ParsePin reads a "sha256:<64 hex digits>" pin (colons between byte pairs are allowed, as
// openssl prints them).
func ParsePin(pin string) ([]byte, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(pin), "sha256:")
	if !ok {
		return nil, fmt.Errorf("CA pin %q: want sha256:<hex fingerprint>", pin)
	}
	b, err := hex.DecodeString(strings.ReplaceAll(rest, ":", ""))
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("CA pin %q: want sha256: and 64 hex digits", pin)
	}
	return b, nil
}

// Fingerprint is the pin of a certificate: "sha256:" and the hex SHA-256 of its DER encoding.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// tlsConfig builds the TLS settings for a server reached as host.
func tlsConfig(host, pin, caFile string) (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	switch {
	case pin != "" && caFile != "":
		return nil, errors.New("give a CA pin or a CA file, not both")
	case caFile != "":
		data, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("CA file %s: no PEM certificate in it", caFile)
		}
		conf.RootCAs = pool
	case pin != "":
		want, err := ParsePin(pin)
		if err != nil {
			return nil, err
		}
		// The pinned certificate replaces the system's roots: the usual verification is off and
		// VerifyConnection does it against the pinned CA, hostname included.
		conf.InsecureSkipVerify = true
		conf.VerifyConnection = func(cs tls.ConnectionState) error { return verifyPinned(cs, want, host) }
	}
	return conf, nil
}

// verifyPinned accepts a connection whose chain holds the pinned certificate and whose leaf
// chains up to it and is valid for host (the name or address in the server URL: the connection
// state's ServerName is empty for an address, since SNI carries names only).
func verifyPinned(cs tls.ConnectionState, want []byte, host string) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("tls: the server sent no certificate")
	}
	var ca *x509.Certificate
	for _, c := range cs.PeerCertificates {
		sum := sha256.Sum256(c.Raw)
		if string(sum[:]) == string(want) {
			ca = c
			break
		}
	}
	if ca == nil {
		return fmt.Errorf("tls: no certificate of the server's chain matches the CA pin sha256:%s (the server presented %s)", hex.EncodeToString(want), Fingerprint(cs.PeerCertificates[len(cs.PeerCertificates)-1]))
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: host})
	if err != nil {
		return fmt.Errorf("tls: the server's certificate does not verify against the pinned CA: %w", err)
	}
	return nil
}
