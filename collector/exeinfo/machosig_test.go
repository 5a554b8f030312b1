package exeinfo

import (
	"bytes"
	"crypto/sha256"
	"debug/macho"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// The Developer ID signature used below is real: the code signature of bun 1.4.5's macOS arm64
// executable, from the npm package @oven/bun-darwin-aarch64@1.4.5 (MIT; tarball sha256
// 88c398ee13212e8b189119a2bddc7d240ae4f1252c1d0ae2ac1fd44c921fdcb1), file package/bin/bun
// (sha256 e2984124f1514e1e6bbda20adedbf07a02c443c6a5828853a15c7c7abf78e19f), signed
// "Developer ID Application: Jarred Sumner (7FRXF46ZSN)". The 88 MB executable is not kept:
// testdata/bun-1.4.5-darwin-arm64.codesig is its SuperBlob with every blob as it is, except
// that the CodeDirectory stops where its code hashes begin (its length and code-slot count
// say so); the test wraps it in a small Mach-O. To check or remake it from the executable:
//
//	VIGIL_MACHO_SIGNED=/path/to/bun go test ./collector/exeinfo -run Fixture [-update-fixture]
const (
	bunFixture    = "testdata/bun-1.4.5-darwin-arm64.codesig"
	bunSHA256     = "e2984124f1514e1e6bbda20adedbf07a02c443c6a5828853a15c7c7abf78e19f"
	bunIdentifier = "bun"
	bunTeam       = "7FRXF46ZSN"
	bunSigner     = "Developer ID Application: Jarred Sumner (7FRXF46ZSN)"
)

var updateFixture = flag.Bool("update-fixture", false, "rewrite "+bunFixture+" from $VIGIL_MACHO_SIGNED")

var bunSignature = MachOSignature{Identifier: bunIdentifier, TeamID: bunTeam, Signer: bunSigner}

// thinMachO wraps a code signature SuperBlob in a minimal 64-bit Mach-O executable for cpu:
// the header, one LC_CODE_SIGNATURE load command and the blob, 16-byte aligned as ld places it.
func thinMachO(cpu macho.Cpu, superBlob []byte) []byte {
	const dataOff = 64
	var b bytes.Buffer
	le := binary.LittleEndian
	for _, v := range []uint32{macho.Magic64, uint32(cpu), 0, uint32(macho.TypeExec), 1, 16, 0, 0} {
		_ = binary.Write(&b, le, v)
	}
	for _, v := range []uint32{uint32(lcCodeSignature), 16, dataOff, uint32(len(superBlob))} {
		_ = binary.Write(&b, le, v)
	}
	b.Write(make([]byte, dataOff-b.Len()))
	b.Write(superBlob)
	return b.Bytes()
}

// fatMachO glues thin Mach-O slices into a universal binary as lipo does (slices 16 KiB
// aligned).
func fatMachO(cpus []macho.Cpu, slices [][]byte) []byte {
	const align = 1 << 14
	var b bytes.Buffer
	be := binary.BigEndian
	_ = binary.Write(&b, be, uint32(macho.MagicFat))
	_ = binary.Write(&b, be, uint32(len(slices)))
	off := uint32(align)
	for i, s := range slices {
		for _, v := range []uint32{uint32(cpus[i]), 0, off, uint32(len(s)), 14} {
			_ = binary.Write(&b, be, v)
		}
		off += (uint32(len(s)) + align - 1) &^ (align - 1)
	}
	for _, s := range slices {
		b.Write(make([]byte, (align-b.Len()%align)%align))
		b.Write(s)
	}
	return b.Bytes()
}

// trimSuperBlob returns a SuperBlob's blobs unchanged, except the CodeDirectory, which stops
// where its code hashes begin: bytes up to hashOffset (header, identifier, team, special-slot
// hashes), its length and code-slot count set to match. Alternate CodeDirectories are left out.
func trimSuperBlob(t *testing.T, sb []byte) []byte {
	t.Helper()
	be := binary.BigEndian
	count := be.Uint32(sb[8:])
	type blob struct {
		typ  uint32
		data []byte
	}
	var blobs []blob
	for i := range count {
		typ, off := be.Uint32(sb[12+8*i:]), be.Uint32(sb[16+8*i:])
		n := be.Uint32(sb[off+4:])
		data := bytes.Clone(sb[off : off+n])
		switch {
		case typ == csSlotCodeDir:
			hashOff := be.Uint32(data[16:])
			data = data[:hashOff]
			be.PutUint32(data[4:], hashOff) // length
			be.PutUint32(data[28:], 0)      // nCodeSlots
		case typ >= csSlotAltCodeDir && typ < csSlotAltCodeDir+5:
			continue
		}
		blobs = append(blobs, blob{typ, data})
	}
	head := 12 + 8*len(blobs)
	total := head
	for _, b := range blobs {
		total += len(b.data)
	}
	out := make([]byte, head, total)
	be.PutUint32(out, csMagicSuperBlob)
	be.PutUint32(out[4:], uint32(total))
	be.PutUint32(out[8:], uint32(len(blobs)))
	for i, b := range blobs {
		be.PutUint32(out[12+8*i:], b.typ)
		be.PutUint32(out[16+8*i:], uint32(len(out)))
		out = append(out, b.data...)
	}
	return out
}

// bunMachO is a small arm64 Mach-O carrying bun's real Developer ID signature.
func bunMachO(t *testing.T) []byte {
	t.Helper()
	sb, err := os.ReadFile(bunFixture)
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	return thinMachO(macho.CpuArm64, sb)
}

func TestReadMachOSignatureDeveloperID(t *testing.T) {
	data := bunMachO(t)
	// The wrapper is a well-formed Mach-O: the standard library finds the same load command.
	mf, err := macho.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("debug/macho rejects the test executable: %v", err)
	}
	if len(mf.Loads) != 1 || mf.ByteOrder.Uint32(mf.Loads[0].Raw()) != uint32(lcCodeSignature) {
		t.Fatalf("debug/macho loads %v", mf.Loads)
	}
	sig, ok := ReadMachOSignature(bytes.NewReader(data))
	if !ok || sig != bunSignature {
		t.Fatalf("ReadMachOSignature = %+v, %v; want %+v", sig, ok, bunSignature)
	}

	// A renamed copy is read through the cache with the same identity, and becomes fields.
	renamed := filepath.Join(t.TempDir(), ".x", "softwareupdated")
	if err := os.MkdirAll(filepath.Dir(renamed), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(renamed, data, 0o755); err != nil {
		t.Fatal(err)
	}
	c := NewCache(0)
	info := c.Path(renamed)
	fields := map[string]any{}
	info.Fields(fields)
	want := map[string]any{"SigningId": bunIdentifier, "SigningTeamId": bunTeam, "SigningAdHoc": false, "Signature": bunSigner}
	if len(fields) != len(want) {
		t.Errorf("fields %v; want %v", fields, want)
	}
	for k, v := range want {
		if fields[k] != v {
			t.Errorf("%s = %v; want %v", k, fields[k], v)
		}
	}
	if c.Path(renamed) != info || c.Reads() != 1 {
		t.Errorf("second look read the file again (%d reads)", c.Reads())
	}

	// The same executable with its signature cut off, or its load command pointing past it.
	if sig, ok := ReadMachOSignature(bytes.NewReader(data[:len(data)/2])); ok {
		t.Errorf("truncated: %+v", sig)
	}
	bad := bytes.Clone(data)
	binary.LittleEndian.PutUint32(bad[32+8:], uint32(len(data)))
	if sig, ok := ReadMachOSignature(bytes.NewReader(bad)); ok {
		t.Errorf("signature offset past the end: %+v", sig)
	}
}

// TestReadMachOSignatureFixture checks the committed fixture against the executable it was cut
// from, when $VIGIL_MACHO_SIGNED names it (see the comment on bunFixture), and reads that
// executable itself.
func TestReadMachOSignatureFixture(t *testing.T) {
	p := os.Getenv("VIGIL_MACHO_SIGNED")
	if p == "" {
		t.Skip("VIGIL_MACHO_SIGNED not set: the fixture is not compared with bun's executable (npm @oven/bun-darwin-aarch64@1.4.5)")
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != bunSHA256 {
		t.Fatalf("%s is not bun 1.4.5 darwin-arm64 (sha256 %x)", p, sum)
	}
	if sig, ok := ReadMachOSignature(bytes.NewReader(data)); !ok || sig != bunSignature {
		t.Fatalf("%s: %+v, %v; want %+v", p, sig, ok, bunSignature)
	}
	mf, err := macho.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var sb []byte
	for _, l := range mf.Loads {
		raw := l.Raw()
		if mf.ByteOrder.Uint32(raw) == uint32(lcCodeSignature) {
			off, n := mf.ByteOrder.Uint32(raw[8:]), mf.ByteOrder.Uint32(raw[12:])
			sb = data[off : off+n]
		}
	}
	trimmed := trimSuperBlob(t, sb)
	if *updateFixture {
		if err := os.WriteFile(bunFixture, trimmed, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if committed, err := os.ReadFile(bunFixture); err != nil || !bytes.Equal(committed, trimmed) {
		t.Errorf("%s differs from the signature cut from %s (%v)", bunFixture, p, err)
	}
}

// TestReadMachOSignatureGoLinker reads what the Go linker writes: darwin/arm64 executables carry
// an ad-hoc, linker-made signature (identifier "a.out", no team, no certificate); darwin/amd64
// ones none. A universal binary of both gives the signed slice.
func TestReadMachOSignatureGoLinker(t *testing.T) {
	arm := buildGo(t, "example.com/hello", "GOOS=darwin", "GOARCH=arm64")
	amd := buildGo(t, "example.com/hello", "GOOS=darwin", "GOARCH=amd64")
	armData, err := os.ReadFile(arm)
	if err != nil {
		t.Fatal(err)
	}
	amdData, err := os.ReadFile(amd)
	if err != nil {
		t.Fatal(err)
	}
	adhoc := MachOSignature{Identifier: "a.out", AdHoc: true}
	if sig, ok := ReadMachOSignature(bytes.NewReader(armData)); !ok || sig != adhoc {
		t.Errorf("darwin/arm64: %+v, %v; want %+v", sig, ok, adhoc)
	}
	if sig, ok := ReadMachOSignature(bytes.NewReader(amdData)); ok {
		t.Errorf("darwin/amd64 (unsigned): %+v", sig)
	}
	fat := fatMachO([]macho.Cpu{macho.CpuAmd64, macho.CpuArm64}, [][]byte{amdData, armData})
	if ff, err := macho.NewFatFile(bytes.NewReader(fat)); err != nil || len(ff.Arches) != 2 {
		t.Fatalf("debug/macho rejects the universal binary: %v", err)
	}
	if sig, ok := ReadMachOSignature(bytes.NewReader(fat)); !ok || sig != adhoc {
		t.Errorf("universal: %+v, %v; want %+v", sig, ok, adhoc)
	}
	// The Go build identity is read from it too, and the fields say ad-hoc without a team.
	p := filepath.Join(t.TempDir(), "hello")
	if err := os.WriteFile(p, fat, 0o755); err != nil {
		t.Fatal(err)
	}
	fields := map[string]any{}
	NewCache(0).Path(p).Fields(fields)
	if fields["SigningId"] != "a.out" || fields["SigningAdHoc"] != true || fields["SigningTeamId"] != nil ||
		fields["Signature"] != nil || fields["GoPackage"] != "example.com/hello" {
		t.Errorf("fields %v", fields)
	}

	// A universal binary whose slices are signed differently gives this machine's slice.
	other := map[string]macho.Cpu{"amd64": macho.CpuArm64, "arm64": macho.CpuAmd64}[runtime.GOARCH]
	if other == 0 {
		t.Skipf("no Mach-O slice for %s", runtime.GOARCH)
	}
	bun := thinMachO(hostCPU(), mustRead(t, bunFixture))
	fat = fatMachO([]macho.Cpu{other, hostCPU()}, [][]byte{armData, bun})
	if sig, ok := ReadMachOSignature(bytes.NewReader(fat)); !ok || sig != bunSignature {
		t.Errorf("universal, %s slice second: %+v, %v; want bun's", runtime.GOARCH, sig, ok)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReadMachOSignatureNotSigned covers files that are not Mach-O or carry no signature: the
// standard library's unsigned test executables (a thin and a universal one) among them.
func TestReadMachOSignatureNotSigned(t *testing.T) {
	for _, data := range [][]byte{nil, []byte("\xcf\xfa\xed\xfe"), []byte("\xca\xfe\xba\xbe\x00\x00\x00\x34"), []byte("\x7fELF\x02\x01\x01")} {
		if sig, ok := ReadMachOSignature(bytes.NewReader(data)); ok {
			t.Errorf("%q: %+v", data, sig)
		}
	}
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Skipf("go env GOROOT: %v", err)
	}
	goroot := strings.TrimSpace(string(out))
	for _, name := range []string{"gcc-amd64-darwin-exec", "fat-gcc-386-amd64-darwin-exec"} {
		p := filepath.Join(goroot, "src", "debug", "macho", "testdata", name+".base64")
		enc, err := os.ReadFile(p)
		if err != nil {
			t.Skipf("Go's debug/macho test data not found: %v", err)
		}
		data, err := base64.StdEncoding.DecodeString(string(enc))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if _, err := macho.NewFile(bytes.NewReader(data)); err != nil {
			if _, err := macho.NewFatFile(bytes.NewReader(data)); err != nil {
				t.Fatalf("%s: not Mach-O: %v", name, err)
			}
		}
		if sig, ok := ReadMachOSignature(bytes.NewReader(data)); ok {
			t.Errorf("%s (unsigned): %+v", name, sig)
		}
		if info := Read(bytes.NewReader(data)); info != (Info{}) {
			t.Errorf("%s: %+v", name, info)
		}
	}
}

// TestReadMachOSignatureMalformed feeds prefixes and single-field corruptions of a signed
// executable: a cut signature is none, and no corruption panics.
func TestReadMachOSignatureMalformed(t *testing.T) {
	data := bunMachO(t)
	for n := 0; n < len(data); n += 7 { // the signature ends the file: any prefix cuts it
		if sig, ok := ReadMachOSignature(bytes.NewReader(data[:n])); ok {
			t.Fatalf("prefix %d: %+v", n, sig)
		}
	}
	for i := 0; i+4 <= 64+512; i += 4 {
		for _, v := range []uint32{0, 1, 0x7fffffff, 0xffffffff} {
			bad := bytes.Clone(data)
			binary.BigEndian.PutUint32(bad[i:], v)
			_, _ = ReadMachOSignature(bytes.NewReader(bad))
		}
	}
}

func FuzzReadMachOSignature(f *testing.F) {
	sb, err := os.ReadFile(bunFixture)
	if err != nil {
		f.Fatal(err)
	}
	thin := thinMachO(macho.CpuArm64, sb)
	f.Add(thin)
	f.Add(fatMachO([]macho.Cpu{macho.CpuArm64}, [][]byte{thin[:600]}))
	f.Add([]byte("\xcf\xfa\xed\xfe"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sig, ok := ReadMachOSignature(bytes.NewReader(data))
		if !ok && sig != (MachOSignature{}) {
			t.Fatalf("not ok but %+v", sig)
		}
		if ok && sig.Identifier == "" {
			t.Fatalf("ok without an identifier: %+v", sig)
		}
	})
}

// FuzzPKCS7Signer fuzzes the CMS reading shared by PE and Mach-O signatures, from the real BER
// signature in the fixture.
func FuzzPKCS7Signer(f *testing.F) {
	sb, err := os.ReadFile(bunFixture)
	if err != nil {
		f.Fatal(err)
	}
	cms := sb[bytes.LastIndex(sb, []byte{0xfa, 0xde, 0x0b, 0x01})+8:]
	if got, ok := pkcs7Signer(cms); !ok || got != bunSigner {
		f.Fatalf("seed: %q, %v", got, ok)
	}
	f.Add(cms)
	f.Fuzz(func(t *testing.T, der []byte) {
		if name, ok := pkcs7Signer(der); ok != (name != "") {
			t.Fatalf("%q, %v", name, ok)
		}
	})
}
