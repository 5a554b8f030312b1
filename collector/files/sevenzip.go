package files

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/ulikunitz/xz/lzma"
)

// 7z header property IDs (7-Zip's 7zFormat.txt).
const (
	k7zEnd                = 0x00
	k7zHeader             = 0x01
	k7zArchiveProperties  = 0x02
	k7zAdditionalStreams  = 0x03
	k7zMainStreamsInfo    = 0x04
	k7zFilesInfo          = 0x05
	k7zPackInfo           = 0x06
	k7zUnpackInfo         = 0x07
	k7zSubStreamsInfo     = 0x08
	k7zSize               = 0x09
	k7zCRC                = 0x0A
	k7zFolder             = 0x0B
	k7zCodersUnpackSize   = 0x0C
	k7zEncodedHeader      = 0x17
	sevenZipMaxFolders    = 1 << 16
	sevenZipMaxCoders     = 64
	sevenZipMaxPackStream = 1 << 16
)

// Coder IDs.
var (
	coderAES   = []byte{0x06, 0xF1, 0x07, 0x01}
	coderLZMA  = []byte{0x03, 0x01, 0x01}
	coderLZMA2 = []byte{0x21}
	coderCopy  = []byte{0x00}
)

// sevenZipEncrypted reads the 7z start header, then the next header it points to. A header encoded
// with the AES coder (7z -mhe=on) means encrypted; otherwise the header (decoded from LZMA/LZMA2
// when 7-Zip compressed it, as it does by default) is parsed and any folder using the AES coder
// means encrypted.
func sevenZipEncrypted(r io.ReaderAt, size int64) (bool, error) {
	var sh [32]byte
	if err := readAt(r, sh[:], 0, "7z start header"); err != nil {
		return false, err
	}
	nextOff := binary.LittleEndian.Uint64(sh[12:20])
	nextSize := binary.LittleEndian.Uint64(sh[20:28])
	if binary.LittleEndian.Uint32(sh[8:12]) != crc32.ChecksumIEEE(sh[12:32]) {
		return false, errors.New("7z: start header CRC mismatch (archive still being written, or damaged)")
	}
	if nextSize == 0 {
		return false, nil // an empty archive
	}
	if nextSize > sevenZipHeadMax || nextOff > uint64(size) || 32+nextOff+nextSize > uint64(size) {
		return false, fmt.Errorf("7z: next header (offset %d, %d bytes) outside the %d-byte file or over the %d-byte cap",
			32+nextOff, nextSize, size, sevenZipHeadMax)
	}
	hdr := make([]byte, nextSize)
	if err := readAt(r, hdr, int64(32+nextOff), "7z next header"); err != nil {
		return false, err
	}
	for depth := 0; depth < 4; depth++ { // an encoded header decodes to a header; bound the nesting
		if len(hdr) == 0 {
			return false, errors.New("7z: empty header")
		}
		switch hdr[0] {
		case k7zHeader:
			p := &szParser{b: hdr, p: 1}
			enc, err := p.header()
			if err != nil {
				return false, fmt.Errorf("7z header: %w", err)
			}
			return enc, nil
		case k7zEncodedHeader:
			p := &szParser{b: hdr, p: 1}
			si, _, err := p.streamsInfo()
			if err != nil {
				return false, fmt.Errorf("7z encoded header: %w", err)
			}
			if si.usesAES() {
				return true, nil // the header itself is encrypted (-mhe=on)
			}
			decoded, err := si.decodeHeader(r, size)
			if err != nil {
				return false, fmt.Errorf("7z encoded header: %w", err)
			}
			hdr = decoded
		default:
			return false, fmt.Errorf("7z: unknown header type 0x%02x", hdr[0])
		}
	}
	return false, errors.New("7z: encoded headers nested too deep")
}

type szCoder struct {
	id    []byte
	props []byte
}

type szFolder struct {
	coders      []szCoder
	unpackSizes []uint64
}

type szStreams struct {
	packPos   uint64
	packSizes []uint64
	folders   []szFolder
}

func (s *szStreams) usesAES() bool {
	for _, f := range s.folders {
		for _, c := range f.coders {
			if bytes.Equal(c.id, coderAES) {
				return true
			}
		}
	}
	return false
}

// decodeHeader unpacks an encoded header: one folder with one coder (LZMA, LZMA2 or copy) reading
// the first pack stream.
func (s *szStreams) decodeHeader(r io.ReaderAt, size int64) ([]byte, error) {
	if len(s.folders) != 1 || len(s.folders[0].coders) != 1 || len(s.packSizes) < 1 || len(s.folders[0].unpackSizes) < 1 {
		return nil, errors.New("unsupported encoded header layout")
	}
	c := s.folders[0].coders[0]
	packSize, unpackSize := s.packSizes[0], s.folders[0].unpackSizes[0]
	if packSize > sevenZipHeadMax || unpackSize > sevenZipHeadMax {
		return nil, fmt.Errorf("header of %d packed / %d unpacked bytes over the %d-byte cap", packSize, unpackSize, sevenZipHeadMax)
	}
	if s.packPos > uint64(size) || 32+s.packPos+packSize > uint64(size) {
		return nil, fmt.Errorf("packed header (offset %d, %d bytes) outside the %d-byte file", 32+s.packPos, packSize, size)
	}
	packed := make([]byte, packSize)
	if err := readAt(r, packed, int64(32+s.packPos), "7z packed header"); err != nil {
		return nil, err
	}
	var dec io.Reader
	switch {
	case bytes.Equal(c.id, coderCopy):
		dec = bytes.NewReader(packed)
	case bytes.Equal(c.id, coderLZMA):
		if len(c.props) != 5 {
			return nil, fmt.Errorf("LZMA coder: %d property bytes, want 5", len(c.props))
		}
		var h [13]byte
		copy(h[:5], c.props)
		binary.LittleEndian.PutUint64(h[5:], unpackSize)
		cfg := lzma.ReaderConfig{DictCap: dictCap(binary.LittleEndian.Uint32(c.props[1:5]), unpackSize)}
		if cfg.DictCap < lzma.MinDictCap {
			cfg.DictCap = lzma.MinDictCap
		}
		// The stream may be shorter than the dictionary the header names; cap it at the output.
		binary.LittleEndian.PutUint32(h[1:5], uint32(cfg.DictCap))
		lr, err := cfg.NewReader(io.MultiReader(bytes.NewReader(h[:]), bytes.NewReader(packed)))
		if err != nil {
			return nil, fmt.Errorf("LZMA: %w", err)
		}
		dec = lr
	case bytes.Equal(c.id, coderLZMA2):
		cfg := lzma.Reader2Config{DictCap: dictCap(1<<22, unpackSize)}
		if cfg.DictCap < lzma.MinDictCap {
			cfg.DictCap = lzma.MinDictCap
		}
		lr, err := cfg.NewReader2(bytes.NewReader(packed))
		if err != nil {
			return nil, fmt.Errorf("LZMA2: %w", err)
		}
		dec = lr
	default:
		return nil, fmt.Errorf("header coder %x not supported", c.id)
	}
	out := make([]byte, unpackSize)
	if _, err := io.ReadFull(dec, out); err != nil {
		return nil, fmt.Errorf("decode %d header bytes: %w", unpackSize, err)
	}
	return out, nil
}

func dictCap(dict uint32, unpack uint64) int {
	if uint64(dict) > unpack {
		return int(unpack)
	}
	return int(dict)
}

// szParser reads 7z header structures, with errors naming the byte offset.
type szParser struct {
	b []byte
	p int
}

func (z *szParser) errf(format string, a ...any) error {
	return fmt.Errorf("offset %d: %s", z.p, fmt.Sprintf(format, a...))
}

func (z *szParser) byte1() (byte, error) {
	if z.p >= len(z.b) {
		return 0, z.errf("unexpected end of header")
	}
	c := z.b[z.p]
	z.p++
	return c, nil
}

// number reads 7z's NUMBER: the first byte's leading one bits say how many bytes follow.
func (z *szParser) number() (uint64, error) {
	first, err := z.byte1()
	if err != nil {
		return 0, err
	}
	mask := byte(0x80)
	var v uint64
	for i := 0; i < 8; i++ {
		if first&mask == 0 {
			high := uint64(first) & (uint64(mask) - 1)
			return v | high<<(8*uint(i)), nil
		}
		c, err := z.byte1()
		if err != nil {
			return 0, err
		}
		v |= uint64(c) << (8 * uint(i))
		mask >>= 1
	}
	return v, nil
}

func (z *szParser) count(what string, max uint64) (int, error) {
	n, err := z.number()
	if err != nil {
		return 0, err
	}
	if n > max || n > uint64(len(z.b)) {
		return 0, z.errf("%s count %d out of range", what, n)
	}
	return int(n), nil
}

func (z *szParser) skip(n uint64) error {
	if n > uint64(len(z.b)-z.p) {
		return z.errf("skip %d bytes past the end", n)
	}
	z.p += int(n)
	return nil
}

// skipDigests skips n CRC digests: an "all defined" byte, maybe a bit vector, then the CRCs.
func (z *szParser) skipDigests(n int) error {
	all, err := z.byte1()
	if err != nil {
		return err
	}
	defined := n
	if all == 0 {
		defined = 0
		bits := (n + 7) / 8
		if bits > len(z.b)-z.p {
			return z.errf("digest bit vector past the end")
		}
		for i := 0; i < n; i++ {
			if z.b[z.p+i/8]&(0x80>>(uint(i)%8)) != 0 {
				defined++
			}
		}
		z.p += bits
	}
	return z.skip(uint64(defined) * 4)
}

// header parses a plain header and reports whether any folder uses the AES coder.
func (z *szParser) header() (bool, error) {
	for {
		id, err := z.byte1()
		if err != nil {
			return false, err
		}
		switch id {
		case k7zEnd:
			return false, nil
		case k7zArchiveProperties:
			for {
				t, err := z.number()
				if err != nil {
					return false, err
				}
				if t == 0 {
					break
				}
				n, err := z.number()
				if err != nil {
					return false, err
				}
				if err := z.skip(n); err != nil {
					return false, err
				}
			}
		case k7zAdditionalStreams, k7zMainStreamsInfo:
			si, complete, err := z.streamsInfo()
			if err != nil {
				return false, err
			}
			if si.usesAES() {
				return true, nil
			}
			if !complete {
				// Sub-streams info (per-file sizes and CRCs) and the file list follow: the
				// coders are known, nothing after them is about encryption.
				return false, nil
			}
		case k7zFilesInfo:
			return false, nil // file names and times: nothing about encryption
		default:
			return false, z.errf("unexpected property 0x%02x in header", id)
		}
	}
}

// streamsInfo parses PackInfo and UnpackInfo (folders and coders). It stops at SubStreamsInfo
// (complete false) since per-file sizes and CRCs say nothing about encryption.
func (z *szParser) streamsInfo() (*szStreams, bool, error) {
	s := &szStreams{}
	for {
		id, err := z.byte1()
		if err != nil {
			return nil, false, err
		}
		switch id {
		case k7zEnd:
			return s, true, nil
		case k7zPackInfo:
			if err := z.packInfo(s); err != nil {
				return nil, false, err
			}
		case k7zUnpackInfo:
			if err := z.unpackInfo(s); err != nil {
				return nil, false, err
			}
		case k7zSubStreamsInfo:
			return s, false, nil
		default:
			return nil, false, z.errf("unexpected property 0x%02x in streams info", id)
		}
	}
}

func (z *szParser) packInfo(s *szStreams) error {
	var err error
	if s.packPos, err = z.number(); err != nil {
		return err
	}
	n, err := z.count("pack stream", sevenZipMaxPackStream)
	if err != nil {
		return err
	}
	for {
		id, err := z.byte1()
		if err != nil {
			return err
		}
		switch id {
		case k7zEnd:
			return nil
		case k7zSize:
			s.packSizes = make([]uint64, n)
			for i := range s.packSizes {
				if s.packSizes[i], err = z.number(); err != nil {
					return err
				}
			}
		case k7zCRC:
			if err := z.skipDigests(n); err != nil {
				return err
			}
		default:
			return z.errf("unexpected property 0x%02x in pack info", id)
		}
	}
}

func (z *szParser) unpackInfo(s *szStreams) error {
	id, err := z.byte1()
	if err != nil {
		return err
	}
	if id != k7zFolder {
		return z.errf("unpack info: want folder property, got 0x%02x", id)
	}
	n, err := z.count("folder", sevenZipMaxFolders)
	if err != nil {
		return err
	}
	external, err := z.byte1()
	if err != nil {
		return err
	}
	if external != 0 {
		return z.errf("external folder data not supported")
	}
	s.folders = make([]szFolder, n)
	outs := make([]int, n)
	for i := range s.folders {
		if outs[i], err = z.folder(&s.folders[i]); err != nil {
			return err
		}
	}
	for {
		id, err := z.byte1()
		if err != nil {
			return err
		}
		switch id {
		case k7zEnd:
			return nil
		case k7zCodersUnpackSize:
			for i := range s.folders {
				s.folders[i].unpackSizes = make([]uint64, outs[i])
				for j := range s.folders[i].unpackSizes {
					if s.folders[i].unpackSizes[j], err = z.number(); err != nil {
						return err
					}
				}
			}
		case k7zCRC:
			if err := z.skipDigests(n); err != nil {
				return err
			}
		default:
			return z.errf("unexpected property 0x%02x in unpack info", id)
		}
	}
}

// folder parses one folder's coders, bind pairs and packed stream indexes; it returns the
// folder's total number of output streams.
func (z *szParser) folder(f *szFolder) (int, error) {
	nc, err := z.count("coder", sevenZipMaxCoders)
	if err != nil {
		return 0, err
	}
	if nc == 0 {
		return 0, z.errf("folder without coders")
	}
	totalIn, totalOut := 0, 0
	for i := 0; i < nc; i++ {
		flag, err := z.byte1()
		if err != nil {
			return 0, err
		}
		idSize := int(flag & 0x0f)
		if idSize > len(z.b)-z.p {
			return 0, z.errf("coder id past the end")
		}
		c := szCoder{id: z.b[z.p : z.p+idSize]}
		z.p += idSize
		in, out := 1, 1
		if flag&0x10 != 0 {
			if in, err = z.count("coder in-stream", sevenZipMaxCoders); err != nil {
				return 0, err
			}
			if out, err = z.count("coder out-stream", sevenZipMaxCoders); err != nil {
				return 0, err
			}
		}
		if flag&0x20 != 0 {
			np, err := z.number()
			if err != nil {
				return 0, err
			}
			if np > uint64(len(z.b)-z.p) {
				return 0, z.errf("coder properties past the end")
			}
			c.props = z.b[z.p : z.p+int(np)]
			z.p += int(np)
		}
		if flag&0x80 != 0 {
			return 0, z.errf("alternative coder methods not supported")
		}
		totalIn += in
		totalOut += out
		f.coders = append(f.coders, c)
	}
	if totalOut == 0 {
		return 0, z.errf("folder without output streams")
	}
	for i := 0; i < totalOut-1; i++ { // bind pairs
		if _, err := z.number(); err != nil {
			return 0, err
		}
		if _, err := z.number(); err != nil {
			return 0, err
		}
	}
	packed := totalIn - (totalOut - 1)
	if packed > 1 {
		for i := 0; i < packed; i++ {
			if _, err := z.number(); err != nil {
				return 0, err
			}
		}
	}
	return totalOut, nil
}
