package exeinfo

import (
	"bytes"
	"debug/macho"
	"encoding/binary"
	"io"
	"runtime"
)

// MachOSignature is what a Mach-O executable's embedded code signature says about it: the
// CodeDirectory's identifier and team, its ad-hoc flag, and the signing certificate's name.
type MachOSignature struct {
	// Identifier is the CodeDirectory's signing identifier: the bundle identifier for an app's
	// executable (`com.philandro.anydesk`), the file name or a linker-made name otherwise.
	Identifier string
	// TeamID is the Apple developer team the signing certificate was issued to (`KU6W3B6JMZ`);
	// empty for ad-hoc and Apple platform signatures.
	TeamID string
	// AdHoc is set for an ad-hoc signature (no certificate: `codesign -s -`, or the linker's).
	AdHoc bool
	// Signer is the subject common name of the certificate the CMS signature's signer
	// information points to (`Developer ID Application: AnyDesk Software GmbH (KU6W3B6JMZ)`).
	Signer string
}

// Bounds on what is read from a hostile file.
const (
	maxLoadCmds   = 1 << 20   // bytes of load commands (real executables: a few KiB)
	maxFatArches  = 16        // slices of a universal binary (real ones: 2 or 3)
	maxBlobs      = 64        // SuperBlob index entries (real ones: 3 to 8)
	maxCDHeader   = 64        // CodeDirectory bytes read for its header (through teamOffset)
	maxCDString   = 512       // bytes read for the identifier and the team (each NUL-terminated)
	maxCMSBlob    = 256 << 10 // the CMS signature blob (real ones: 5 to 20 KiB)
	fatHeaderSize = 8         // magic, nfat_arch
	fatArchSize   = 20        // cputype, cpusubtype, offset, size, align
)

// Code signing structures (Apple's xnu osfmk/kern/cs_blobs.h); blobs are big-endian.
const (
	lcCodeSignature     macho.LoadCmd = 0x1d
	csMagicSuperBlob                  = 0xfade0cc0
	csMagicCodeDir                    = 0xfade0c02
	csMagicBlobWrapper                = 0xfade0b01 // holds the CMS signature
	csSlotCodeDir                     = 0
	csSlotAltCodeDir                  = 0x1000 // alternate CodeDirectories: 0x1000 to 0x1004
	csSlotSignature                   = 0x10000
	csAdHoc                           = 0x2 // CodeDirectory flag
	csSupportsTeamID                  = 0x20200
	cdOffVersion                      = 8
	cdOffFlags                        = 12
	cdOffIdent                        = 20
	cdOffTeam                         = 48
	machHeader32Size                  = 28
	machHeader64Size                  = 32
	machOFatMagicOnDisk               = "\xca\xfe\xba\xbe"
)

// ReadMachOSignature reads a Mach-O executable's embedded code signature (the LC_CODE_SIGNATURE
// load command's SuperBlob). In a universal binary it reads the slice this machine runs (arm64
// or x86_64), else the first signed one. The signature is read, not verified: neither the code
// hashes nor the certificate chain is checked, so it says what the file claims. ok is false for
// a file that is not Mach-O, carries no signature or whose signature has no CodeDirectory.
func ReadMachOSignature(r io.ReaderAt) (sig MachOSignature, ok bool) {
	var magic [4]byte
	if _, err := r.ReadAt(magic[:], 0); err != nil {
		return MachOSignature{}, false
	}
	if string(magic[:]) != machOFatMagicOnDisk {
		return machOSliceSignature(r, 0, -1)
	}
	var hdr [fatHeaderSize]byte
	if _, err := r.ReadAt(hdr[:], 0); err != nil {
		return MachOSignature{}, false
	}
	n := binary.BigEndian.Uint32(hdr[4:])
	if n == 0 || n > maxFatArches { // Java class files share the magic; their version is larger
		return MachOSignature{}, false
	}
	table := make([]byte, int(n)*fatArchSize)
	if _, err := r.ReadAt(table, fatHeaderSize); err != nil {
		return MachOSignature{}, false
	}
	want := hostCPU()
	var first MachOSignature
	found := false
	for i := range int(n) {
		a := table[i*fatArchSize:]
		var arch macho.FatArchHeader
		arch.Cpu = macho.Cpu(binary.BigEndian.Uint32(a))
		arch.Offset = binary.BigEndian.Uint32(a[8:])
		arch.Size = binary.BigEndian.Uint32(a[12:])
		s, ok := machOSliceSignature(r, int64(arch.Offset), int64(arch.Size))
		if !ok {
			continue
		}
		if arch.Cpu == want {
			return s, true
		}
		if !found {
			first, found = s, true
		}
	}
	return first, found
}

// hostCPU is the Mach-O CPU type of the slice this machine runs.
func hostCPU() macho.Cpu {
	if runtime.GOARCH == "amd64" {
		return macho.CpuAmd64
	}
	return macho.CpuArm64
}

// machOSliceSignature reads the signature of the thin Mach-O at off (size bytes, or to the end
// of the file when size < 0).
func machOSliceSignature(r io.ReaderAt, off, size int64) (MachOSignature, bool) {
	var raw [machHeader64Size]byte
	if _, err := r.ReadAt(raw[:machHeader32Size], off); err != nil {
		return MachOSignature{}, false
	}
	var bo binary.ByteOrder
	var hdrSize int64
	switch {
	case binary.LittleEndian.Uint32(raw[:]) == macho.Magic64:
		bo, hdrSize = binary.LittleEndian, machHeader64Size
	case binary.LittleEndian.Uint32(raw[:]) == macho.Magic32:
		bo, hdrSize = binary.LittleEndian, machHeader32Size
	case binary.BigEndian.Uint32(raw[:]) == macho.Magic64:
		bo, hdrSize = binary.BigEndian, machHeader64Size
	case binary.BigEndian.Uint32(raw[:]) == macho.Magic32:
		bo, hdrSize = binary.BigEndian, machHeader32Size
	default:
		return MachOSignature{}, false
	}
	var fh macho.FileHeader
	if err := binary.Read(bytes.NewReader(raw[:machHeader32Size]), bo, &fh); err != nil {
		return MachOSignature{}, false
	}
	if fh.Cmdsz == 0 || fh.Cmdsz > maxLoadCmds || (size >= 0 && hdrSize+int64(fh.Cmdsz) > size) {
		return MachOSignature{}, false
	}
	cmds := make([]byte, fh.Cmdsz)
	if _, err := r.ReadAt(cmds, off+hdrSize); err != nil {
		return MachOSignature{}, false
	}
	for i := uint32(0); i < fh.Ncmd && len(cmds) >= 8; i++ {
		cmd, n := macho.LoadCmd(bo.Uint32(cmds)), bo.Uint32(cmds[4:])
		if n < 8 || int64(n) > int64(len(cmds)) {
			return MachOSignature{}, false
		}
		if cmd == lcCodeSignature && n >= 16 { // linkedit_data_command: cmd, cmdsize, dataoff, datasize
			dataOff, dataSize := int64(bo.Uint32(cmds[8:])), int64(bo.Uint32(cmds[12:]))
			if dataSize < 12 || (size >= 0 && dataOff+dataSize > size) {
				return MachOSignature{}, false
			}
			var last [1]byte // a signature cut short (a truncated file) is no signature
			if _, err := r.ReadAt(last[:], off+dataOff+dataSize-1); err != nil {
				return MachOSignature{}, false
			}
			return readSuperBlob(io.NewSectionReader(r, off+dataOff, dataSize))
		}
		cmds = cmds[n:]
	}
	return MachOSignature{}, false
}

// readSuperBlob reads the code signature SuperBlob: its index, the CodeDirectory's header and
// strings and the CMS blob; the code hashes between them are never read.
func readSuperBlob(sb *io.SectionReader) (MachOSignature, bool) {
	var hdr [12]byte // magic, length, count
	if _, err := sb.ReadAt(hdr[:], 0); err != nil || binary.BigEndian.Uint32(hdr[:]) != csMagicSuperBlob {
		return MachOSignature{}, false
	}
	length := min(int64(binary.BigEndian.Uint32(hdr[4:])), sb.Size())
	count := binary.BigEndian.Uint32(hdr[8:])
	if count == 0 || count > maxBlobs || 12+8*int64(count) > length {
		return MachOSignature{}, false
	}
	index := make([]byte, 8*count)
	if _, err := sb.ReadAt(index, 12); err != nil {
		return MachOSignature{}, false
	}
	blob := io.NewSectionReader(sb, 0, length)
	var cdOff, cmsOff int64 = -1, -1
	for i := range int(count) {
		typ, off := binary.BigEndian.Uint32(index[8*i:]), int64(binary.BigEndian.Uint32(index[8*i+4:]))
		switch {
		case typ == csSlotCodeDir, typ >= csSlotAltCodeDir && typ < csSlotAltCodeDir+5 && cdOff < 0:
			cdOff = off
		case typ == csSlotSignature:
			cmsOff = off
		}
	}
	if cdOff < 0 {
		return MachOSignature{}, false
	}
	sig, ok := readCodeDirectory(blob, cdOff)
	if !ok {
		return MachOSignature{}, false
	}
	if cmsOff >= 0 && !sig.AdHoc {
		sig.Signer = readCMSSigner(blob, cmsOff)
	}
	return sig, true
}

// readCodeDirectory reads the identifier, team and flags of the CodeDirectory at off.
func readCodeDirectory(blob *io.SectionReader, off int64) (MachOSignature, bool) {
	cdLen, ok := blobHeader(blob, off, csMagicCodeDir)
	if !ok || cdLen < cdOffIdent+4 {
		return MachOSignature{}, false
	}
	cd := io.NewSectionReader(blob, off, cdLen)
	head := make([]byte, min(cdLen, maxCDHeader))
	if _, err := cd.ReadAt(head, 0); err != nil {
		return MachOSignature{}, false
	}
	version := binary.BigEndian.Uint32(head[cdOffVersion:])
	sig := MachOSignature{AdHoc: binary.BigEndian.Uint32(head[cdOffFlags:])&csAdHoc != 0}
	if sig.Identifier, ok = cdString(cd, binary.BigEndian.Uint32(head[cdOffIdent:])); !ok || sig.Identifier == "" {
		return MachOSignature{}, false
	}
	if version >= csSupportsTeamID && len(head) >= cdOffTeam+4 {
		if teamOff := binary.BigEndian.Uint32(head[cdOffTeam:]); teamOff != 0 {
			sig.TeamID, _ = cdString(cd, teamOff)
		}
	}
	return sig, true
}

// blobHeader checks the magic of the blob at off and returns its length, bounded by its
// container.
func blobHeader(blob *io.SectionReader, off int64, magic uint32) (int64, bool) {
	var h [8]byte
	if off < 0 || off+8 > blob.Size() {
		return 0, false
	}
	if _, err := blob.ReadAt(h[:], off); err != nil || binary.BigEndian.Uint32(h[:]) != magic {
		return 0, false
	}
	n := int64(binary.BigEndian.Uint32(h[4:]))
	if n < 8 || off+n > blob.Size() {
		return 0, false
	}
	return n, true
}

// cdString reads the NUL-terminated string at off in a CodeDirectory, cleaned for an event.
func cdString(cd *io.SectionReader, off uint32) (string, bool) {
	if int64(off) >= cd.Size() {
		return "", false
	}
	buf := make([]byte, min(cd.Size()-int64(off), maxCDString))
	n, err := cd.ReadAt(buf, int64(off))
	if err != nil && err != io.EOF {
		return "", false
	}
	end := bytes.IndexByte(buf[:n], 0)
	if end < 0 {
		return "", false
	}
	s := clean(string(buf[:end]))
	return s, s != "" || end == 0
}

// readCMSSigner returns the signer's certificate name from the CMS blob wrapper at off ("" for
// an empty wrapper, as ad-hoc signatures carry, or one that does not parse).
func readCMSSigner(blob *io.SectionReader, off int64) string {
	n, ok := blobHeader(blob, off, csMagicBlobWrapper)
	if !ok || n <= 8 || n > maxCMSBlob {
		return ""
	}
	der := make([]byte, n-8)
	if _, err := blob.ReadAt(der, off+8); err != nil {
		return ""
	}
	signer, _ := pkcs7Signer(der)
	return signer
}

// isMachO tells whether a file's first four bytes are a Mach-O or universal binary's magic.
func isMachO(magic [4]byte) bool {
	if string(magic[:]) == machOFatMagicOnDisk {
		return true
	}
	le, be := binary.LittleEndian.Uint32(magic[:]), binary.BigEndian.Uint32(magic[:])
	return le == macho.Magic32 || le == macho.Magic64 || be == macho.Magic32 || be == macho.Magic64
}
