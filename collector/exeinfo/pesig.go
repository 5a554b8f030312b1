package exeinfo

import (
	"debug/pe"
	"encoding/binary"
	"io"
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
