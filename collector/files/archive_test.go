package files

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func detectFile(t *testing.T, path string) ArchiveInfo {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	info, err := DetectArchive(f, st.Size())
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return info
}

func makeSourceTree(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "src", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"src/a.go", "src/b.txt", "src/sub/c.bin"} {
		data := bytes.Repeat([]byte{byte('a' + i)}, 3000+i*1000)
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func run(t *testing.T, dir, name string, args ...string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s not installed", name)
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// TestDetectRealArchives builds archives with the real tools and checks type and encryption.
func TestDetectRealArchives(t *testing.T) {
	cases := []struct {
		file      string
		tool      string
		args      []string
		typ       string
		encrypted bool
	}{
		{"plain.tar", "tar", []string{"cf", "plain.tar", "src"}, ArchiveTar, false},
		{"a.tgz", "tar", []string{"czf", "a.tgz", "src"}, ArchiveGz, false},
		{"a.txz", "tar", []string{"cJf", "a.txz", "src"}, ArchiveXz, false},
		{"a.tbz", "tar", []string{"cjf", "a.tbz", "src"}, ArchiveBz2, false},
		{"a.tzst", "zstd", []string{"-q", "-o", "a.tzst", "src/a.go"}, ArchiveZst, false},
		{"a.zip", "zip", []string{"-qr", "a.zip", "src"}, ArchiveZip, false},
		{"enc.zip", "zip", []string{"-qr", "-P", "secret", "enc.zip", "src"}, ArchiveZip, true},
		{"a.7z", "7z", []string{"a", "-bd", "-y", "a.7z", "src"}, Archive7z, false},
		{"enc.7z", "7z", []string{"a", "-bd", "-y", "-psecret", "enc.7z", "src"}, Archive7z, true},
		{"ench.7z", "7z", []string{"a", "-bd", "-y", "-psecret", "-mhe=on", "ench.7z", "src"}, Archive7z, true},
		{"plainhdr.7z", "7z", []string{"a", "-bd", "-y", "-mhc=off", "plainhdr.7z", "src"}, Archive7z, false},
		{"plainhdrenc.7z", "7z", []string{"a", "-bd", "-y", "-mhc=off", "-psecret", "plainhdrenc.7z", "src"}, Archive7z, true},
		{"lzma2hdr.7z", "7z", []string{"a", "-bd", "-y", "-m0=lzma2", "-psecret", "lzma2hdr.7z", "src"}, Archive7z, true},
		{"z7.zip", "7z", []string{"a", "-bd", "-y", "-tzip", "z7.zip", "src"}, ArchiveZip, false},
		{"z7enc.zip", "7z", []string{"a", "-bd", "-y", "-tzip", "-psecret", "z7enc.zip", "src"}, ArchiveZip, true},
		{"z7aes.zip", "7z", []string{"a", "-bd", "-y", "-tzip", "-psecret", "-mem=AES256", "z7aes.zip", "src"}, ArchiveZip, true},
		{"empty.7z", "7z", []string{"a", "-bd", "-y", "empty.7z", "src/sub/c.bin", "-x!*"}, Archive7z, false},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			dir := t.TempDir()
			makeSourceTree(t, dir)
			run(t, dir, c.tool, c.args...)
			got := detectFile(t, filepath.Join(dir, c.file))
			if got.Type != c.typ || got.Encrypted != c.encrypted {
				t.Fatalf("%s: got %+v, want type %q encrypted %v", c.file, got, c.typ, c.encrypted)
			}
		})
	}
}

// TestDetectByMagicNotName: a zip renamed to .txt is a zip; text named .zip is not.
func TestDetectByMagicNotName(t *testing.T) {
	dir := t.TempDir()
	makeSourceTree(t, dir)
	run(t, dir, "zip", "-qr", "-P", "pw", "x.zip", "src")
	if err := os.Rename(filepath.Join(dir, "x.zip"), filepath.Join(dir, "notes.txt")); err != nil {
		t.Fatal(err)
	}
	if got := detectFile(t, filepath.Join(dir, "notes.txt")); got.Type != ArchiveZip || !got.Encrypted {
		t.Fatalf("renamed zip: %+v", got)
	}
	if err := os.WriteFile(filepath.Join(dir, "fake.zip"), []byte("just some text, PK is not at the start\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := detectFile(t, filepath.Join(dir, "fake.zip")); got.Type != "" {
		t.Fatalf("text named .zip: %+v", got)
	}
}

// TestZipEncryptedOnlyInCentralDirectory: the first entry is a plain directory, a later one encrypted.
func TestZipEncryptedOnlyInCentralDirectory(t *testing.T) {
	var b bytes.Buffer
	local := func(name string, flags uint16) int {
		off := b.Len()
		h := make([]byte, 30)
		copy(h, "PK\x03\x04")
		binary.LittleEndian.PutUint16(h[6:], flags)
		binary.LittleEndian.PutUint16(h[26:], uint16(len(name)))
		b.Write(h)
		b.WriteString(name)
		return off
	}
	o1 := local("dir/", 0)
	o2 := local("dir/secret.txt", 1)
	cdStart := b.Len()
	central := func(name string, flags uint16, off int) {
		h := make([]byte, 46)
		copy(h, "PK\x01\x02")
		binary.LittleEndian.PutUint16(h[8:], flags)
		binary.LittleEndian.PutUint16(h[28:], uint16(len(name)))
		binary.LittleEndian.PutUint32(h[42:], uint32(off))
		b.Write(h)
		b.WriteString(name)
	}
	central("dir/", 0, o1)
	central("dir/secret.txt", 1, o2)
	cdLen := b.Len() - cdStart
	e := make([]byte, 22)
	copy(e, "PK\x05\x06")
	binary.LittleEndian.PutUint32(e[12:], uint32(cdLen))
	binary.LittleEndian.PutUint32(e[16:], uint32(cdStart))
	binary.LittleEndian.PutUint16(e[20:], 5)
	b.Write(e)
	b.WriteString("hello") // archive comment
	data := b.Bytes()
	got, err := DetectArchive(bytes.NewReader(data), int64(len(data)))
	if err != nil || got.Type != ArchiveZip || !got.Encrypted {
		t.Fatalf("got %+v, %v", got, err)
	}
	// Same archive with the flag cleared is not encrypted.
	binary.LittleEndian.PutUint16(data[o2+6:], 0)
	binary.LittleEndian.PutUint16(data[cdStart+46+4+8:], 0)
	got, err = DetectArchive(bytes.NewReader(data), int64(len(data)))
	if err != nil || got.Type != ArchiveZip || got.Encrypted {
		t.Fatalf("cleared: got %+v, %v", got, err)
	}
}

func TestZipEmptyAndSpanned(t *testing.T) {
	empty := append([]byte("PK\x05\x06"), make([]byte, 18)...)
	if got, err := DetectArchive(bytes.NewReader(empty), int64(len(empty))); err != nil || got.Type != ArchiveZip {
		t.Fatalf("empty zip: %+v %v", got, err)
	}
	spanned := append([]byte("PK\x07\x08PK\x03\x04\x14\x00\x01\x00"), make([]byte, 40)...)
	got, _ := DetectArchive(bytes.NewReader(spanned), int64(len(spanned)))
	if got.Type != ArchiveZip || !got.Encrypted {
		t.Fatalf("spanned encrypted zip: %+v", got)
	}
}

func TestTruncatedArchiveStillTyped(t *testing.T) {
	dir := t.TempDir()
	makeSourceTree(t, dir)
	run(t, dir, "7z", "a", "-bd", "-y", "-psecret", "x.7z", "src")
	data, err := os.ReadFile(filepath.Join(dir, "x.7z"))
	if err != nil {
		t.Fatal(err)
	}
	// As 7-Zip writes it: the start header is zero until the end.
	partial := append([]byte{}, data[:len(data)/2]...)
	for i := 8; i < 32; i++ {
		partial[i] = 0
	}
	got, err := DetectArchive(bytes.NewReader(partial), int64(len(partial)))
	if got.Type != Archive7z || err == nil {
		t.Fatalf("partial 7z: %+v, err %v (want type 7z and an error)", got, err)
	}
}

func TestNotArchives(t *testing.T) {
	for name, data := range map[string][]byte{
		"empty":     nil,
		"text":      []byte("hello world"),
		"bzh-text":  []byte("BZh9 is how bzip2 starts, but this is prose"),
		"gzip-ish":  {0x1f, 0x8b, 0x07},
		"short-7z":  {'7', 'z', 0xBC},
		"elf":       append([]byte("\x7fELF"), make([]byte, 600)...),
		"ustar-off": append(make([]byte, 100), []byte("ustar")...),
	} {
		got, _ := DetectArchive(bytes.NewReader(data), int64(len(data)))
		if got.Type != "" {
			t.Errorf("%s: detected %+v", name, got)
		}
	}
}

// ---- rar: no rar writer is packaged here, so archives are built from the format documents ----

func rar5Header(typ, flags uint64, body []byte, extra []byte, dataSize uint64) []byte {
	var h []byte
	h = appendVint(h, typ)
	if len(extra) > 0 {
		flags |= 0x01
	}
	if dataSize > 0 {
		flags |= 0x02
	}
	h = appendVint(h, flags)
	if len(extra) > 0 {
		h = appendVint(h, uint64(len(extra)))
	}
	if dataSize > 0 {
		h = appendVint(h, dataSize)
	}
	h = append(h, body...)
	h = append(h, extra...)
	sz := appendVint(nil, uint64(len(h)))
	crc := crc32.ChecksumIEEE(append(append([]byte{}, sz...), h...))
	out := binary.LittleEndian.AppendUint32(nil, crc)
	out = append(out, sz...)
	out = append(out, h...)
	return append(out, make([]byte, dataSize)...)
}

func appendVint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func rar5File(name string, encrypted bool) []byte {
	var body []byte
	body = appendVint(body, 0)    // file flags
	body = appendVint(body, 10)   // unpacked size
	body = appendVint(body, 0x20) // attributes
	body = appendVint(body, 0)    // compression info
	body = appendVint(body, 0)    // host OS
	body = appendVint(body, uint64(len(name)))
	body = append(body, name...)
	var extra []byte
	if encrypted {
		rec := appendVint(nil, 1)                 // type: file encryption
		rec = append(rec, appendVint(nil, 0)...)  // version
		rec = append(rec, appendVint(nil, 0)...)  // flags
		rec = append(rec, 15)                     // KDF count
		rec = append(rec, make([]byte, 16+16)...) // salt, IV
		extra = append(appendVint(nil, uint64(len(rec))), rec...)
	}
	return rar5Header(2, 0, body, extra, 10)
}

func TestRar5(t *testing.T) {
	main := rar5Header(1, 0, appendVint(nil, 0), nil, 0)
	end := rar5Header(5, 0, appendVint(nil, 0), nil, 0)
	build := func(blocks ...[]byte) []byte {
		out := append([]byte{}, magicRar5...)
		for _, b := range blocks {
			out = append(out, b...)
		}
		return out
	}
	cases := map[string]struct {
		data []byte
		enc  bool
	}{
		"plain":          {build(main, rar5File("a.txt", false), rar5File("b.txt", false), end), false},
		"file-encrypted": {build(main, rar5File("a.txt", false), rar5File("b.txt", true), end), true},
		"header-encrypted": {build(rar5Header(4, 0, append(appendVint(nil, 0), make([]byte, 20)...), nil, 0),
			[]byte("random-encrypted-bytes")), true},
	}
	for name, c := range cases {
		got, err := DetectArchive(bytes.NewReader(c.data), int64(len(c.data)))
		if err != nil || got.Type != ArchiveRar || got.Encrypted != c.enc {
			t.Errorf("%s: got %+v, %v; want encrypted %v", name, got, err, c.enc)
		}
	}
}

func rar4Block(typ byte, flags uint16, body []byte, addSize uint32) []byte {
	size := 7 + len(body)
	if typ == 0x74 || flags&0x8000 != 0 {
		size += 4
	}
	h := []byte{0, 0, typ}
	h = binary.LittleEndian.AppendUint16(h, flags)
	h = binary.LittleEndian.AppendUint16(h, uint16(size))
	if typ == 0x74 || flags&0x8000 != 0 {
		h = binary.LittleEndian.AppendUint32(h, addSize)
	}
	h = append(h, body...)
	return append(h, make([]byte, addSize)...)
}

func TestRar4(t *testing.T) {
	build := func(mainFlags, fileFlags uint16) []byte {
		out := append([]byte{}, magicRar4...)
		out = append(out, rar4Block(0x73, mainFlags, make([]byte, 6), 0)...)
		body := make([]byte, 21)                    // unp size, host os, crc, time, ver, method, name size, attr
		binary.LittleEndian.PutUint16(body[15:], 5) // name size
		body = append(body, "a.txt"...)
		out = append(out, rar4Block(0x74, fileFlags, body, 8)...)
		out = append(out, rar4Block(0x7b, 0, nil, 0)...)
		return out
	}
	for name, c := range map[string]struct {
		data []byte
		enc  bool
	}{
		"plain":            {build(0, 0), false},
		"file-password":    {build(0, 0x0004), true},
		"headers-password": {build(0x0080, 0), true},
	} {
		got, err := DetectArchive(bytes.NewReader(c.data), int64(len(c.data)))
		if err != nil || got.Type != ArchiveRar || got.Encrypted != c.enc {
			t.Errorf("%s: got %+v, %v; want encrypted %v", name, got, err, c.enc)
		}
	}
}

// FuzzDetectArchive: hostile bytes never panic or hang, with each format's magic as seed.
func FuzzDetectArchive(f *testing.F) {
	dir := f.TempDir()
	for _, args := range [][]string{
		{"7z", "a", "-bd", "-y", "-psecret", "a.7z", "src"},
		{"7z", "a", "-bd", "-y", "-psecret", "-mhe=on", "b.7z", "src"},
		{"7z", "a", "-bd", "-y", "-mhc=off", "c.7z", "src"},
		{"zip", "-qr", "-P", "x", "d.zip", "src"},
	} {
		if _, err := exec.LookPath(args[0]); err != nil {
			continue
		}
		_ = os.MkdirAll(filepath.Join(dir, "src"), 0o755)
		_ = os.WriteFile(filepath.Join(dir, "src", "f.txt"), bytes.Repeat([]byte("data "), 100), 0o644)
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = dir
		if cmd.Run() == nil {
			if b, err := os.ReadFile(filepath.Join(dir, args[len(args)-2])); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add(append(append([]byte{}, magicRar5...), rar5File("a", true)...))
	f.Add(append(append([]byte{}, magicRar4...), rar4Block(0x73, 0x80, make([]byte, 6), 0)...))
	f.Add(append([]byte("PK\x05\x06"), make([]byte, 18)...))
	f.Add([]byte{0x1f, 0x8b, 8, 0})
	f.Add(append([]byte("BZh9"), bz2Block...))
	f.Add(append(make([]byte, 257), "ustar\x0000"...))
	f.Fuzz(func(t *testing.T, data []byte) {
		info, _ := DetectArchive(bytes.NewReader(data), int64(len(data)))
		if info.Encrypted && info.Type != ArchiveZip && info.Type != Archive7z && info.Type != ArchiveRar {
			t.Fatalf("encrypted %q", info.Type)
		}
	})
}
