package agent

import (
	"os"
	"testing"
)

func TestParseSmapsAndDroppable(t *testing.T) {
	const exe = "/usr/bin/vigil"
	smaps := `00400000-009f8000 r-xp 00000000 08:01 1234                               /usr/bin/vigil
Size:               6112 kB
Rss:                3996 kB
Anonymous:             0 kB
009f8000-010f7000 r--p 005f8000 08:01 1234                               /usr/bin/vigil
Rss:                5000 kB
Anonymous:             8 kB
010f7000-01162000 rw-p 00cf7000 08:01 1234                               /usr/bin/vigil
Rss:                 428 kB
Anonymous:           116 kB
7f0000000000-7f0000001000 r--p 00000000 08:01 99                         /usr/lib/with space.so
Rss:                   4 kB
Anonymous:             0 kB
VmFlags: rd mr mw me
`
	ms := parseSmaps([]byte(smaps))
	if len(ms) != 4 {
		t.Fatalf("%d mappings: %+v", len(ms), ms)
	}
	if ms[0].start != 0x400000 || ms[0].end != 0x9f8000 || ms[0].rss != 3996<<10 || ms[3].path != "/usr/lib/with space.so" {
		t.Fatalf("parsed %+v", ms)
	}
	want := []bool{true, false, false, false} // code; relocated read-only data; writable; another file
	for i, m := range ms {
		if got := m.droppable(exe); got != want[i] {
			t.Errorf("mapping %d (%s %s anon %d): droppable %v, want %v", i, m.perms, m.path, m.anon, got, want[i])
		}
	}
}

// The test binary drops its own code pages and keeps running.
func TestDropExecutablePages(t *testing.T) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Skip(err)
	}
	resident := func() (n int64) {
		data, err := os.ReadFile("/proc/self/smaps")
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range parseSmaps(data) {
			if m.droppable(exe) {
				n += m.rss
			}
		}
		return n
	}
	before := resident()
	dropped, err := dropExecutablePages()
	if err != nil {
		t.Fatal(err)
	}
	after := resident()
	t.Logf("executable pages resident: %d KiB before, %d KiB dropped, %d KiB after", before>>10, dropped>>10, after>>10)
	if dropped == 0 || after >= before {
		t.Fatalf("nothing released: %d KiB before, %d KiB after", before>>10, after>>10)
	}
}
