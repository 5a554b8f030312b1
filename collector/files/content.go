package files

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"
)

// EncryptedFormat values: what the first bytes of a file that is not an archive say about it.
const (
	EncryptedOpenSSL = "openssl" // `openssl enc` with a salt: "Salted__" and 8 bytes of salt
	EncryptedOpenPGP = "openpgp" // OpenPGP encrypted data (gpg -c, gpg -e), binary or armored
	EncryptedAge     = "age"     // age, binary or armored
	EncryptedUnknown = "unknown" // random-looking first bytes with no known format's signature
)

// Limits of DetectEncrypted: it reads the first 4 KiB of a file, keeps nothing of them, and
// calls a file of no known format random-looking only from 64 KiB on, when the Shannon entropy
// of those bytes is at least 7.9 bits per byte (4 KiB of a cipher's output measure about 7.95;
// text, code and most binaries are far below).
const (
	entropyBytes     = 4096
	minUnknownSize   = 64 << 10
	entropyThreshold = 7.9
)

// DetectEncrypted tells from the first bytes of a file (that is not an archive) whether it is
// the output of an encryption tool, and which: one of the Encrypted* values, or "".
func DetectEncrypted(r io.ReaderAt, size int64) (string, error) {
	n := int64(entropyBytes)
	if size < n {
		n = size
	}
	if n < 16 {
		return "", nil
	}
	head := make([]byte, n)
	if _, err := r.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read first bytes: %w", err)
	}
	switch {
	case bytes.HasPrefix(head, []byte("Salted__")):
		return EncryptedOpenSSL, nil
	case bytes.HasPrefix(head, []byte("age-encryption.org/v1\n")), bytes.HasPrefix(head, []byte("-----BEGIN AGE ENCRYPTED FILE-----")):
		return EncryptedAge, nil
	case bytes.HasPrefix(head, []byte("-----BEGIN PGP MESSAGE-----")), isOpenPGPEncrypted(head):
		return EncryptedOpenPGP, nil
	}
	if size >= minUnknownSize && len(head) == entropyBytes && !hasKnownSignature(head) && entropy(head) >= entropyThreshold {
		return EncryptedUnknown, nil
	}
	return "", nil
}

// isOpenPGPEncrypted matches a binary OpenPGP message that starts with a session key packet
// (RFC 4880/9580): a Symmetric-Key Encrypted Session Key (tag 3: version 4 to 6, a known cipher,
// a known S2K type) or a Public-Key Encrypted Session Key (tag 1: version 3 or 6), in the old or
// the new packet format.
func isOpenPGPEncrypted(b []byte) bool {
	if len(b) < 12 || b[0]&0x80 == 0 {
		return false
	}
	var tag byte
	var body []byte
	if b[0]&0x40 != 0 { // new format
		tag = b[0] & 0x3f
		switch l := b[1]; {
		case l < 192:
			body = b[2:]
		case l < 224:
			body = b[3:]
		case l == 255:
			body = b[6:]
		default:
			return false
		}
	} else { // old format
		tag = (b[0] >> 2) & 0x0f
		switch b[0] & 3 {
		case 0:
			body = b[2:]
		case 1:
			body = b[3:]
		case 2:
			body = b[5:]
		default:
			return false
		}
	}
	switch tag {
	case 3: // SKESK
		if v := body[0]; v == 4 {
			return body[1] >= 1 && body[1] <= 13 && (body[2] == 0 || body[2] == 1 || body[2] == 3)
		} else if v == 5 || v == 6 {
			return true
		}
	case 1: // PKESK
		return body[0] == 3 || body[0] == 6
	}
	return false
}

// hasKnownSignature reports whether the first bytes are a known format's: compressed data,
// media, documents, databases, executables, disk encryption containers. Such files are dense by
// nature and are not "unknown" encrypted data.
func hasKnownSignature(b []byte) bool {
	sigs := [][]byte{
		{0x89, 'P', 'N', 'G'}, {0xff, 0xd8, 0xff}, []byte("GIF8"), []byte("%PDF"), []byte("RIFF"), []byte("OggS"),
		[]byte("fLaC"), []byte("ID3"), []byte("SQLite format 3"), {0x7f, 'E', 'L', 'F'}, []byte("MZ"),
		{0xcf, 0xfa, 0xed, 0xfe}, {0xca, 0xfe, 0xba, 0xbe}, []byte("PACK"), []byte("wOFF"), []byte("wOF2"),
		{0x1a, 0x45, 0xdf, 0xa3}, []byte("MSCF"), []byte("LUKS\xba\xbe"), {0x04, 0x22, 0x4d, 0x18},
		{0x00, 0x00, 0x01, 0xba}, {0x00, 0x00, 0x01, 0xb3}, []byte("\x1f\x8b"), []byte("BZh"), {0xfd, '7', 'z', 'X', 'Z'},
		{0x28, 0xb5, 0x2f, 0xfd}, []byte("8BPS"), []byte("II*\x00"), []byte("MM\x00*"), []byte("\xd0\xcf\x11\xe0"),
		[]byte("Cr24"), []byte("\x00asm"), []byte("dex\n"), []byte("BM"), []byte("OTTO"), {0x00, 0x01, 0x00, 0x00},
	}
	for _, s := range sigs {
		if bytes.HasPrefix(b, s) {
			return true
		}
	}
	// ISO base media (MP4, MOV, HEIC, AVIF): "ftyp" at offset 4; MP3 frames: 0xFFEx/0xFFFx.
	return (len(b) >= 8 && string(b[4:8]) == "ftyp") || (len(b) >= 2 && b[0] == 0xff && b[1]&0xe0 == 0xe0)
}

// entropy is the Shannon entropy of b in bits per byte.
func entropy(b []byte) float64 {
	var counts [256]int
	for _, c := range b {
		counts[c]++
	}
	h := 0.0
	n := float64(len(b))
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

// extensionTypes maps file extensions to the archive types a file so named really is. An
// extension listed with no type claims a file that is not an archive at all.
var extensionTypes = map[string][]string{
	// zip containers
	".zip": {ArchiveZip}, ".jar": {ArchiveZip}, ".war": {ArchiveZip}, ".ear": {ArchiveZip}, ".apk": {ArchiveZip},
	".aar": {ArchiveZip}, ".xlsx": {ArchiveZip}, ".xlsm": {ArchiveZip}, ".docx": {ArchiveZip}, ".docm": {ArchiveZip},
	".pptx": {ArchiveZip}, ".pptm": {ArchiveZip}, ".odt": {ArchiveZip}, ".ods": {ArchiveZip}, ".odp": {ArchiveZip},
	".odg": {ArchiveZip}, ".epub": {ArchiveZip}, ".whl": {ArchiveZip}, ".nupkg": {ArchiveZip}, ".vsix": {ArchiveZip},
	".xpi": {ArchiveZip}, ".ipa": {ArchiveZip}, ".kmz": {ArchiveZip}, ".3mf": {ArchiveZip}, ".appx": {ArchiveZip},
	".msix": {ArchiveZip}, ".sketch": {ArchiveZip}, ".key": {ArchiveZip}, ".numbers": {ArchiveZip}, ".pages": {ArchiveZip},
	// archives and compressed files
	".7z": {Archive7z}, ".rar": {ArchiveRar}, ".tar": {ArchiveTar, ArchiveGz, ArchiveXz, ArchiveZst, ArchiveBz2},
	".gz": {ArchiveGz}, ".tgz": {ArchiveGz}, ".gzip": {ArchiveGz}, ".svgz": {ArchiveGz}, ".xz": {ArchiveXz},
	".txz": {ArchiveXz}, ".zst": {ArchiveZst}, ".tzst": {ArchiveZst}, ".zstd": {ArchiveZst}, ".bz2": {ArchiveBz2},
	".tbz": {ArchiveBz2}, ".tbz2": {ArchiveBz2}, ".crate": {ArchiveGz}, ".gem": {ArchiveTar},
	// not archives
	".txt": nil, ".csv": nil, ".tsv": nil, ".log": nil, ".md": nil, ".json": nil, ".xml": nil, ".yaml": nil,
	".yml": nil, ".html": nil, ".pdf": nil, ".doc": nil, ".xls": nil, ".ppt": nil, ".rtf": nil, ".jpg": nil,
	".jpeg": nil, ".png": nil, ".gif": nil, ".bmp": nil, ".webp": nil, ".heic": nil, ".svg": nil, ".mp3": nil,
	".mp4": nil, ".mov": nil, ".avi": nil, ".mkv": nil, ".wav": nil, ".flac": nil, ".go": nil, ".py": nil,
	".js": nil, ".ts": nil, ".java": nil, ".c": nil, ".h": nil, ".sql": nil, ".db": nil, ".sqlite": nil,
	".ini": nil, ".conf": nil, ".cfg": nil, ".pem": nil, ".eml": nil, ".ics": nil, ".vcf": nil, ".iso": nil,
	".dmg": nil, ".exe": nil, ".dll": nil, ".so": nil, ".msi": nil, ".deb": nil, ".rpm": nil,
}

// ExtensionMismatch reports whether a file recognised as archiveType by its magic bytes is named
// as something else: a known extension whose files are another type (a tar.gz named .xlsx, a 7z
// named .jpg). Names without an extension, or with one not listed, claim nothing.
func ExtensionMismatch(name, archiveType string) bool {
	if archiveType == "" {
		return false
	}
	types, known := extensionTypes[strings.ToLower(filepath.Ext(name))]
	if !known {
		return false
	}
	for _, t := range types {
		if t == archiveType {
			return false
		}
	}
	return true
}
