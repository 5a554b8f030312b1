package exeinfo

import (
	"bytes"
	"crypto/x509"
	"debug/pe"
	"encoding/asn1"
	"encoding/binary"
	"io"
	"math/big"
)

// maxCertTable bounds the Authenticode certificate table read from a PE file.
const maxCertTable = 1 << 20

// ReadPESigner returns the signer named in a PE file's embedded Authenticode signature: the
// subject common name (else organization) of the certificate its PKCS#7 SignerInfo points to
// (`AnyDesk Software GmbH`, `WireGuard LLC`). The signature is read, not verified: neither the
// file's digest nor the certificate chain is checked. ok is false for a file that is not PE or
// carries no signature.
func ReadPESigner(r io.ReaderAt) (signer string, ok bool) {
	f, err := pe.NewFile(r)
	if err != nil {
		return "", false
	}
	var dirs []pe.DataDirectory
	switch h := f.OptionalHeader.(type) {
	case *pe.OptionalHeader32:
		dirs = h.DataDirectory[:min(int(h.NumberOfRvaAndSizes), len(h.DataDirectory))]
	case *pe.OptionalHeader64:
		dirs = h.DataDirectory[:min(int(h.NumberOfRvaAndSizes), len(h.DataDirectory))]
	}
	if len(dirs) <= pe.IMAGE_DIRECTORY_ENTRY_SECURITY {
		return "", false
	}
	sec := dirs[pe.IMAGE_DIRECTORY_ENTRY_SECURITY] // VirtualAddress is a file offset here
	if sec.VirtualAddress == 0 || sec.Size < 8 || sec.Size > maxCertTable {
		return "", false
	}
	table := make([]byte, sec.Size)
	if _, err := r.ReadAt(table, int64(sec.VirtualAddress)); err != nil {
		return "", false
	}
	// WIN_CERTIFICATE: dwLength, wRevision, wCertificateType (2: PKCS#7 SignedData), data.
	n := binary.LittleEndian.Uint32(table)
	if binary.LittleEndian.Uint16(table[6:]) != 2 || n < 8 || int(n) > len(table) {
		return "", false
	}
	return pkcs7Signer(table[8:n])
}

// PKCS#7 (RFC 2315) structures, as far as the signer's certificate.
type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,optional,tag:0"`
}

type signedData struct {
	Version          int
	DigestAlgorithms asn1.RawValue
	ContentInfo      asn1.RawValue
	Certificates     asn1.RawValue `asn1:"optional,tag:0"`
	CRLs             asn1.RawValue `asn1:"optional,tag:1"`
	SignerInfos      []signerInfo  `asn1:"set"`
}

type signerInfo struct {
	Version               int
	IssuerAndSerialNumber struct {
		Issuer       asn1.RawValue
		SerialNumber *big.Int
	}
	DigestAlgorithm           asn1.RawValue
	AuthenticatedAttributes   asn1.RawValue `asn1:"optional,tag:0"`
	DigestEncryptionAlgorithm asn1.RawValue
	EncryptedDigest           []byte
	UnauthenticatedAttrs      asn1.RawValue `asn1:"optional,tag:1"`
}

var oidSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}

func pkcs7Signer(der []byte) (string, bool) {
	var ci contentInfo
	if _, err := asn1.Unmarshal(der, &ci); err != nil || !ci.ContentType.Equal(oidSignedData) {
		return "", false
	}
	var sd signedData
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil || len(sd.SignerInfos) == 0 {
		return "", false
	}
	certs, err := x509.ParseCertificates(sd.Certificates.Bytes)
	if err != nil {
		return "", false
	}
	want := sd.SignerInfos[0].IssuerAndSerialNumber
	for _, c := range certs {
		if c.SerialNumber.Cmp(want.SerialNumber) == 0 && bytes.Equal(c.RawIssuer, want.Issuer.FullBytes) {
			name := c.Subject.CommonName
			if name == "" && len(c.Subject.Organization) > 0 {
				name = c.Subject.Organization[0]
			}
			name = clean(name)
			return name, name != ""
		}
	}
	return "", false
}
