package transport

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"

	"github.com/vigilhq/vigil/internal/tlspin"
)

// Fingerprint is the pin of a certificate: "sha256:" and the hex SHA-256 of its DER encoding.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// tlsConfig builds the TLS settings for a server reached as host: pinned to a CA by its
// fingerprint (internal/tlspin: the CA must be in the chain the server presents, and the
// server's certificate must verify against it for host), or trusting a CA file, or the
// system's roots.
func tlsConfig(host, pin, caFile string) (*tls.Config, error) {
	switch {
	case pin != "" && caFile != "":
		return nil, errors.New("give a CA pin or a CA file, not both")
	case pin != "":
		return tlspin.Config(pin, host)
	case caFile != "":
		data, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("CA file %s: no PEM certificate in it", caFile)
		}
		return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}, nil
	}
	return &tls.Config{MinVersion: tls.VersionTLS12}, nil
}
