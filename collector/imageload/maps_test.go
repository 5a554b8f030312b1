package imageload

import (
	"reflect"
	"testing"
)

// A maps text as Linux prints it (lines taken from a real x11vnc run through the loader, with a
// deleted library and a path holding a space).
const sampleMaps = `7f1c2a000000-7f1c2a022000 r--p 00000000 08:01 1835043                    /usr/bin/x11vnc
7f1c2a022000-7f1c2a1a0000 r-xp 00022000 08:01 1835043                    /usr/bin/x11vnc
7f1c2a400000-7f1c2a40a000 r--p 00000000 08:01 1847211                    /usr/lib/x86_64-linux-gnu/libvncserver.so.0.9.14
7f1c2a40a000-7f1c2a44c000 r-xp 0000a000 08:01 1847211                    /usr/lib/x86_64-linux-gnu/libvncserver.so.0.9.14
7f1c2a500000-7f1c2a510000 r-xp 00000000 08:01 1847999                    /opt/My Tools/libplugin.so (deleted)
7f1c2a600000-7f1c2a601000 rw-s 00000000 00:05 2                          /SYSV00000000 (deleted)
7f1c2a700000-7f1c2a720000 r--p 00000000 08:01 1846001                    /usr/share/locale/locale-archive
7f1c2a800000-7f1c2a802000 rw-p 00000000 00:00 0 
7f1c2b000000-7f1c2b001000 r--p 00000000 08:01 1845999                    /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
7f1c2b001000-7f1c2b026000 r-xp 00001000 08:01 1845999                    /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
7ffd1a000000-7ffd1a021000 rw-p 00000000 00:00 0                          [stack]
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
`

func TestParseMaps(t *testing.T) {
	got := loaded(parseMaps([]byte(sampleMaps)), "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")
	want := []string{"/usr/bin/x11vnc", "/usr/lib/x86_64-linux-gnu/libvncserver.so.0.9.14", "/opt/My Tools/libplugin.so"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("run through the loader:\n got %q\nwant %q", got, want)
	}
	got = loaded(parseMaps([]byte(sampleMaps)), "/usr/bin/x11vnc")
	want = []string{"/usr/lib/x86_64-linux-gnu/libvncserver.so.0.9.14", "/opt/My Tools/libplugin.so", "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("run directly:\n got %q\nwant %q", got, want)
	}
	for _, bad := range []string{"", "garbage\n", "1-2 r-xp 0 0:0 1\n", "1-2 r-xp 0 0:0 1 relative/path\n"} {
		if m := parseMaps([]byte(bad)); len(m) != 0 {
			t.Errorf("parseMaps(%q) = %v", bad, m)
		}
	}
}

func TestNames(t *testing.T) {
	for p, want := range map[string]bool{"/lib/libc.so.6": true, "/x/libvncserver.so": true, "/x/a.sox": false, "/x/.so": false, "/usr/bin/x11vnc": false} {
		if isSharedObject(p) != want {
			t.Errorf("isSharedObject(%s) = %v", p, !want)
		}
	}
	for p, want := range map[string]bool{"/lib64/ld-linux-x86-64.so.2": true, "/lib/ld-musl-x86_64.so.1": true, "/usr/bin/ld": false, "/usr/bin/ldd": false} {
		if isLoader(p) != want {
			t.Errorf("isLoader(%s) = %v", p, !want)
		}
	}
}

func FuzzParseMaps(f *testing.F) {
	f.Add([]byte(sampleMaps))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, m := range parseMaps(data) {
			if m.path == "" || m.path[0] != '/' {
				t.Fatalf("bad path %q", m.path)
			}
		}
	})
}
