package files

import (
	"testing"
	"time"
)

func TestMatcher(t *testing.T) {
	m, err := NewMatcher(DefaultExcludes)
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{
		".cache/go-build/ab/cd":                        true,
		"go/pkg/mod/github.com/x@v1":                   true,
		"src/app/node_modules/left-pad":                true,
		"src/repo/.git/objects/pack":                   true,
		"src/repo/.git/refs":                           false,
		"proj/__pycache__":                             true,
		"rust/app/target/debug":                        true,
		"Library/Caches/com.apple.Safari":              true,
		"Library/Containers/x/Data/Library/Caches/y":   true,
		`AppData\Local\Microsoft\Windows\INetCache\IE`: true,
		"Documents/targets":                            false,
		"src/repo/main.go":                             false,
		"NODE_MODULES/x":                               true,
	} {
		if got := m.Excluded(p); got != want {
			t.Errorf("%q: excluded %v, want %v", p, got, want)
		}
	}
	a, err := NewMatcher([]string{"/var/tmp/cache", "**/build/*.o", "C:/ProgramData"})
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{
		"/var/tmp/cache/x": true, "/home/var/tmp/cache": false, "a/b/build/x.o": true, "a/build/x.c": false,
		`C:\ProgramData\x`: true, `D:\ProgramData`: false,
	} {
		if got := a.Excluded(p); got != want {
			t.Errorf("%q: excluded %v, want %v", p, got, want)
		}
	}
	if _, err := NewMatcher([]string{"a/[b"}); err == nil {
		t.Error("bad glob accepted")
	}
}

func TestCloudProvider(t *testing.T) {
	for p, want := range map[string]string{
		"/home/a/Dropbox/x.zip":                                        CloudDropbox,
		"/Users/a/Dropbox (Acme)/x":                                    CloudDropbox,
		"/Users/a/Library/CloudStorage/GoogleDrive-a@b.com/My Drive/x": CloudGoogleDrive,
		`C:\Users\a\Google Drive\x`:                                    CloudGoogleDrive,
		`C:\Users\a\OneDrive - Acme Corp\Documents\x`:                  CloudOneDrive,
		"/Users/a/Library/CloudStorage/OneDrive-Personal/x":            CloudOneDrive,
		"/Users/a/Library/Mobile Documents/com~apple~CloudDocs/x":      CloudICloud,
		`C:\Users\a\iCloudDrive\x`:                                     CloudICloud,
		"/home/a/MEGA/x":                                               CloudMega,
		`C:\Users\a\Documents\MEGAsync\x`:                              CloudMega,
		"/home/a/Documents/mega-report.txt":                            "",
		"/home/a/Mobile Documents/x":                                   "",
	} {
		if got := CloudProvider(p); got != want {
			t.Errorf("%q: %q, want %q", p, got, want)
		}
	}
}

func TestAggregatorWindows(t *testing.T) {
	a := newAggregator(10*time.Second, 2, 3, 100)
	t0 := time.Unix(1000, 0)
	sizes := map[string]int64{}
	add := func(p string, n int64, at time.Duration) bool {
		sizes[p] = n
		return a.add(p, n, false, false, t0.Add(at))
	}
	// dir a: two individual, two counted; dir b: the global budget (3) is left with one.
	got := []bool{add("/a/1", 1, 0), add("/a/2", 2, 0), add("/a/3", 3, 0), add("/a/3", 3, 0), add("/a/4", 4, time.Second),
		add("/b/1", 10, time.Second), add("/b/2", 20, time.Second)}
	want := []bool{true, true, false, false, false, true, false}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("add %d: %v, want %v", i, got[i], want[i])
		}
	}
	sizes["/a/big.zip"] = 100
	if !a.add("/a/big.zip", 100, false, true, t0.Add(2*time.Second)) {
		t.Fatal("forced archive not individual")
	}
	a.add("/a/2", 0, true, false, t0.Add(3*time.Second)) // deleted within the window
	delete(sizes, "/a/2")
	stat := func(p string) (int64, bool) { n, ok := sizes[p]; return n, ok }
	if out := a.due(t0.Add(9*time.Second), stat); len(out) != 0 {
		t.Fatalf("early: %+v", out)
	}
	out := a.due(t0.Add(11*time.Second), stat)
	if len(out) != 2 {
		t.Fatalf("got %+v", out)
	}
	if out[0].Dir != "/a" || out[0].FileCount != 4 || out[0].TotalBytes != 1+3+4+100 || out[0].DeletedCount != 1 {
		t.Errorf("a: %+v", out[0])
	}
	if out[1].Dir != "/b" || out[1].FileCount != 2 || out[1].TotalBytes != 30 {
		t.Errorf("b: %+v", out[1])
	}
	if a.open() || a.tracked != 0 {
		t.Errorf("open %v tracked %d after close", a.open(), a.tracked)
	}
	// A quiet window whose files were all reported individually yields no aggregate.
	a.add("/c/1", 1, false, false, t0.Add(30*time.Second))
	if out := a.due(t0.Add(41*time.Second), stat); len(out) != 0 {
		t.Errorf("quiet window: %+v", out)
	}
}

func TestAggregatorTrackingCap(t *testing.T) {
	a := newAggregator(time.Second, 1, 1, 2)
	t0 := time.Unix(0, 0)
	for i, n := range []int64{5, 6, 7, 8} {
		a.add("/d/"+string(rune('a'+i)), n, false, false, t0)
	}
	out := a.due(t0.Add(time.Second), func(string) (int64, bool) { return 1, true })
	if len(out) != 1 || out[0].FileCount != 4 || out[0].TotalBytes != 1+1+7+8 {
		t.Fatalf("%+v", out)
	}
}
