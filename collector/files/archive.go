package files

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Archive types reported in ArchiveType. They are recognised by magic bytes only, never by a
// file's name.
const (
	ArchiveZip = "zip"
	Archive7z  = "7z"
	ArchiveRar = "rar"
	ArchiveTar = "tar"
	ArchiveGz  = "gz"
	ArchiveXz  = "xz"
	ArchiveZst = "zst"
	ArchiveBz2 = "bz2"
)

// ArchiveInfo is what the first bytes and the header metadata of a file say about it.
type ArchiveInfo struct {
	// Type is one of the Archive* constants, or "" when the file is not a recognised archive.
	Type string
	// Encrypted is true for a password-protected zip, 7z or rar.
	Encrypted bool
}

// Limits on what DetectArchive reads: it never reads file data, only signatures and headers, and
// these caps bound the header metadata it walks so hostile files cannot make it read much.
const (
	sniffLen         = 512     // first bytes read for the magic (tar needs 257+8)
	zipTailMax       = 65557   // end of central directory record (22) + the largest comment
	zipCentralMax    = 1 << 20 // central directory bytes scanned for encrypted entries
	sevenZipHeadMax  = 4 << 20 // 7z (packed or plain) header bytes read and decoded
	rarMaxBlocks     = 64      // rar block headers walked looking for encryption
	rarMaxHeaderSize = 1 << 16 // one rar block header
)

var (
	magicZipLocal   = []byte("PK\x03\x04")
	magicZipEmpty   = []byte("PK\x05\x06")
	magicZipSpanned = []byte("PK\x07\x08")
	magicZipSpan00  = []byte("PK00")
	magic7z         = []byte{'7', 'z', 0xBC, 0xAF, 0x27, 0x1C}
	magicRar4       = []byte("Rar!\x1a\x07\x00")
	magicRar5       = []byte("Rar!\x1a\x07\x01\x00")
	magicXz         = []byte{0xFD, '7', 'z', 'X', 'Z', 0x00}
	magicZst        = []byte{0x28, 0xB5, 0x2F, 0xFD}
	bz2Block        = []byte{0x31, 0x41, 0x59, 0x26, 0x53, 0x59}
	bz2EOS          = []byte{0x17, 0x72, 0x45, 0x38, 0x50, 0x90}
)

// DetectArchive identifies an archive by its magic bytes and, for zip, 7z and rar, reads the
// header metadata that says whether it is password-protected. r holds size bytes. Only the
// signature and header structures are read (bounded by the limits above), never the files the
// archive holds. A file whose magic matches but whose headers are damaged or truncated (an archive
// still being written) is reported with its type and Encrypted false, and a non-nil error saying
// what could not be read; callers re-check once writes settle.
func DetectArchive(r io.ReaderAt, size int64) (ArchiveInfo, error) {
	n := int64(sniffLen)
	if size < n {
		n = size
	}
	if n <= 0 {
		return ArchiveInfo{}, nil
	}
	head := make([]byte, n)
	if _, err := r.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
		return ArchiveInfo{}, fmt.Errorf("read signature: %w", err)
	}
	switch {
	case bytes.HasPrefix(head, magicZipLocal), bytes.HasPrefix(head, magicZipEmpty),
		bytes.HasPrefix(head, magicZipSpanned), bytes.HasPrefix(head, magicZipSpan00):
		enc, err := zipEncrypted(r, size, head)
		return ArchiveInfo{Type: ArchiveZip, Encrypted: enc}, err
	case bytes.HasPrefix(head, magic7z):
		enc, err := sevenZipEncrypted(r, size)
		return ArchiveInfo{Type: Archive7z, Encrypted: enc}, err
	case bytes.HasPrefix(head, magicRar5):
		enc, err := rar5Encrypted(r, size)
		return ArchiveInfo{Type: ArchiveRar, Encrypted: enc}, err
	case bytes.HasPrefix(head, magicRar4):
		enc, err := rar4Encrypted(r, size)
		return ArchiveInfo{Type: ArchiveRar, Encrypted: enc}, err
	case bytes.HasPrefix(head, magicXz):
		return ArchiveInfo{Type: ArchiveXz}, nil
	case bytes.HasPrefix(head, magicZst):
		return ArchiveInfo{Type: ArchiveZst}, nil
	case len(head) >= 3 && head[0] == 0x1f && head[1] == 0x8b && head[2] == 8:
		// gzip: magic and the only defined compression method (deflate).
		return ArchiveInfo{Type: ArchiveGz}, nil
	case isBzip2(head):
		return ArchiveInfo{Type: ArchiveBz2}, nil
	case len(head) >= 263 && bytes.Equal(head[257:262], []byte("ustar")) &&
		(head[262] == 0 || head[262] == ' '):
		// POSIX "ustar\x0000" and GNU "ustar  \x00".
		return ArchiveInfo{Type: ArchiveTar}, nil
	}
	return ArchiveInfo{}, nil
}

// isBzip2 checks "BZh", a block-size digit and the first block's (or the empty stream's end)
// magic, so a text file that happens to start with "BZh" is not taken for bzip2.
func isBzip2(h []byte) bool {
	if len(h) < 10 || h[0] != 'B' || h[1] != 'Z' || h[2] != 'h' || h[3] < '1' || h[3] > '9' {
		return false
	}
	return bytes.Equal(h[4:10], bz2Block) || bytes.Equal(h[4:10], bz2EOS)
}

// readAt reads exactly len(p) bytes at off, with an error naming what was read.
func readAt(r io.ReaderAt, p []byte, off int64, what string) error {
	if off < 0 {
		return fmt.Errorf("%s: negative offset %d", what, off)
	}
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%s at offset %d: %w", what, off, err)
}

// ---- zip ----

// zipEncrypted reports whether the zip's first local header or any central directory entry (of the
// first zipCentralMax bytes) has general-purpose flag bit 0 (encrypted) set. WinZip AES entries
// set it too.
func zipEncrypted(r io.ReaderAt, size int64, head []byte) (bool, error) {
	// The first local header, after a spanning marker if there is one.
	lh := head
	switch {
	case bytes.HasPrefix(lh, magicZipSpanned), bytes.HasPrefix(lh, magicZipSpan00):
		lh = lh[4:]
	}
	if bytes.HasPrefix(lh, magicZipLocal) && len(lh) >= 8 {
		if binary.LittleEndian.Uint16(lh[6:8])&1 != 0 {
			return true, nil
		}
	}
	cdOff, cdSize, err := zipCentralDirectory(r, size)
	if err != nil {
		return false, err
	}
	if cdSize > zipCentralMax {
		cdSize = zipCentralMax
	}
	if cdSize == 0 {
		return false, nil
	}
	cd := make([]byte, cdSize)
	if err := readAt(r, cd, cdOff, "zip central directory"); err != nil {
		return false, err
	}
	for p := 0; p+46 <= len(cd); {
		if !bytes.Equal(cd[p:p+4], []byte("PK\x01\x02")) {
			if p == 0 {
				return false, fmt.Errorf("zip central directory at offset %d: bad signature", cdOff)
			}
			break
		}
		if binary.LittleEndian.Uint16(cd[p+8:p+10])&1 != 0 {
			return true, nil
		}
		nameLen := int(binary.LittleEndian.Uint16(cd[p+28 : p+30]))
		extraLen := int(binary.LittleEndian.Uint16(cd[p+30 : p+32]))
		commentLen := int(binary.LittleEndian.Uint16(cd[p+32 : p+34]))
		p += 46 + nameLen + extraLen + commentLen
	}
	return false, nil
}

// zipCentralDirectory finds the end of central directory record (and its zip64 form) and returns
// the central directory's offset and size.
func zipCentralDirectory(r io.ReaderAt, size int64) (off, n int64, err error) {
	if size < 22 {
		return 0, 0, fmt.Errorf("zip: %d bytes, too short for an end of central directory record", size)
	}
	tailLen := int64(22)
	var tail []byte
	eocd := -1
	for {
		if tailLen > size {
			tailLen = size
		}
		tail = make([]byte, tailLen)
		if err := readAt(r, tail, size-tailLen, "zip end of central directory"); err != nil {
			return 0, 0, err
		}
		eocd = bytes.LastIndex(tail, magicZipEmpty)
		for eocd >= 0 && len(tail)-eocd < 22 {
			eocd = bytes.LastIndex(tail[:eocd], magicZipEmpty)
		}
		if eocd >= 0 || tailLen == size || tailLen >= zipTailMax {
			break
		}
		tailLen = zipTailMax // no comment-less record at the very end: look back over a comment
	}
	if eocd < 0 {
		return 0, 0, errors.New("zip: no end of central directory record (truncated or still being written)")
	}
	rec := tail[eocd:]
	n = int64(binary.LittleEndian.Uint32(rec[12:16]))
	off = int64(binary.LittleEndian.Uint32(rec[16:20]))
	if uint32(off) == 0xFFFFFFFF || uint32(n) == 0xFFFFFFFF {
		// zip64: the locator sits just before the end of central directory record.
		locAt := size - tailLen + int64(eocd) - 20
		loc := make([]byte, 20)
		if err := readAt(r, loc, locAt, "zip64 end of central directory locator"); err != nil {
			return 0, 0, err
		}
		if !bytes.Equal(loc[:4], []byte("PK\x06\x07")) {
			return 0, 0, fmt.Errorf("zip64 locator at offset %d: bad signature", locAt)
		}
		recAt := int64(binary.LittleEndian.Uint64(loc[8:16]))
		rec64 := make([]byte, 56)
		if err := readAt(r, rec64, recAt, "zip64 end of central directory"); err != nil {
			return 0, 0, err
		}
		if !bytes.Equal(rec64[:4], []byte("PK\x06\x06")) {
			return 0, 0, fmt.Errorf("zip64 end of central directory at offset %d: bad signature", recAt)
		}
		n = int64(binary.LittleEndian.Uint64(rec64[40:48]))
		off = int64(binary.LittleEndian.Uint64(rec64[48:56]))
	}
	if off < 0 || n < 0 || off > size || n > size-off {
		return 0, 0, fmt.Errorf("zip: central directory (offset %d, %d bytes) outside the %d-byte file", off, n, size)
	}
	return off, n, nil
}

// ---- rar ----

// rar4Encrypted walks RAR 4.x block headers: the main header's MHD_PASSWORD flag (0x0080, headers
// encrypted with -hp) or a file header's LHD_PASSWORD flag (0x0004) means encrypted.
func rar4Encrypted(r io.ReaderAt, size int64) (bool, error) {
	off := int64(len(magicRar4))
	var h [11]byte
	for i := 0; i < rarMaxBlocks && off+7 <= size; i++ {
		n := 7
		if off+11 <= size {
			n = 11
		}
		if err := readAt(r, h[:n], off, "rar4 block header"); err != nil {
			return false, err
		}
		typ := h[2]
		flags := binary.LittleEndian.Uint16(h[3:5])
		hsize := int64(binary.LittleEndian.Uint16(h[5:7]))
		if hsize < 7 {
			return false, fmt.Errorf("rar4 block header at offset %d: size %d below 7", off, hsize)
		}
		switch typ {
		case 0x73: // main archive header
			if flags&0x0080 != 0 {
				return true, nil
			}
		case 0x74: // file header
			if flags&0x0004 != 0 {
				return true, nil
			}
		case 0x7b: // end of archive
			return false, nil
		}
		next := off + hsize
		if flags&0x8000 != 0 || typ == 0x74 { // ADD_SIZE (file headers: PACK_SIZE) follows
			if n < 11 {
				return false, fmt.Errorf("rar4 block at offset %d: truncated", off)
			}
			next += int64(binary.LittleEndian.Uint32(h[7:11]))
		}
		if next <= off {
			return false, fmt.Errorf("rar4 block at offset %d: no progress", off)
		}
		off = next
	}
	return false, nil
}

// rar5Encrypted walks RAR 5.0 block headers: an archive encryption header (type 4, written by -hp)
// or a file header with a file encryption extra record (type 1) means encrypted.
func rar5Encrypted(r io.ReaderAt, size int64) (bool, error) {
	off := int64(len(magicRar5))
	for i := 0; i < rarMaxBlocks && off < size; i++ {
		// CRC32 (4) then the header size as a vint (at most 3 bytes for our cap).
		var pre [4 + 10]byte
		n := int64(len(pre))
		if off+n > size {
			n = size - off
		}
		if err := readAt(r, pre[:n], off, "rar5 block header"); err != nil {
			return false, err
		}
		if n < 5 {
			return false, fmt.Errorf("rar5 block header at offset %d: truncated", off)
		}
		hsize, vl, err := vint(pre[4:n])
		if err != nil {
			return false, fmt.Errorf("rar5 header size at offset %d: %w", off+4, err)
		}
		if hsize == 0 || hsize > rarMaxHeaderSize {
			return false, fmt.Errorf("rar5 block header at offset %d: size %d out of range", off, hsize)
		}
		start := off + 4 + int64(vl)
		if start+int64(hsize) > size {
			return false, fmt.Errorf("rar5 block header at offset %d: %d bytes past the end of the file", off, hsize)
		}
		hdr := make([]byte, hsize)
		if err := readAt(r, hdr, start, "rar5 block header"); err != nil {
			return false, err
		}
		enc, dataSize, end, err := rar5Block(hdr)
		if err != nil {
			return false, fmt.Errorf("rar5 block header at offset %d: %w", off, err)
		}
		if enc {
			return true, nil
		}
		if end {
			return false, nil
		}
		next := start + int64(hsize) + int64(dataSize)
		if dataSize > uint64(size) || next <= off {
			return false, fmt.Errorf("rar5 block at offset %d: data size %d out of range", off, dataSize)
		}
		off = next
	}
	return false, nil
}

// rar5Block parses one RAR5 header (after its CRC and size fields).
func rar5Block(h []byte) (encrypted bool, dataSize uint64, end bool, err error) {
	p := 0
	next := func(what string) (uint64, error) {
		v, n, err := vint(h[p:])
		if err != nil {
			return 0, fmt.Errorf("%s: %w", what, err)
		}
		p += n
		return v, nil
	}
	typ, err := next("type")
	if err != nil {
		return false, 0, false, err
	}
	flags, err := next("flags")
	if err != nil {
		return false, 0, false, err
	}
	var extraSize uint64
	if flags&0x01 != 0 {
		if extraSize, err = next("extra area size"); err != nil {
			return false, 0, false, err
		}
	}
	if flags&0x02 != 0 {
		if dataSize, err = next("data size"); err != nil {
			return false, 0, false, err
		}
	}
	switch typ {
	case 4: // archive encryption header: every following header is encrypted
		return true, dataSize, false, nil
	case 5: // end of archive
		return false, dataSize, true, nil
	case 2: // file header: the extra area holds records; type 1 is file encryption
		if extraSize == 0 {
			return false, dataSize, false, nil
		}
		if extraSize > uint64(len(h)) {
			return false, 0, false, fmt.Errorf("extra area size %d exceeds header size %d", extraSize, len(h))
		}
		extra := h[len(h)-int(extraSize):]
		for q := 0; q < len(extra); {
			rsize, n, err := vint(extra[q:])
			if err != nil {
				return false, 0, false, fmt.Errorf("extra record size: %w", err)
			}
			q += n
			if rsize == 0 || rsize > uint64(len(extra)-q) {
				return false, 0, false, fmt.Errorf("extra record size %d out of range", rsize)
			}
			rtype, _, err := vint(extra[q : q+int(rsize)])
			if err != nil {
				return false, 0, false, fmt.Errorf("extra record type: %w", err)
			}
			if rtype == 1 {
				return true, dataSize, false, nil
			}
			q += int(rsize)
		}
	}
	return false, dataSize, false, nil
}

// vint decodes RAR5's variable-length integer (7 bits per byte, high bit = more).
func vint(b []byte) (uint64, int, error) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * uint(i))
		if b[i]&0x80 == 0 {
			return v, i + 1, nil
		}
	}
	return 0, 0, errors.New("truncated variable-length integer")
}
