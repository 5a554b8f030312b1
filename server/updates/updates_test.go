package updates

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestSelectedShare(t *testing.T) {
	in := func(percent int) map[string]bool {
		m := map[string]bool{}
		for i := 0; i < 2000; i++ {
			h := fmt.Sprintf("host-%d", i)
			if Selected(h, "1.2.3", percent) {
				m[h] = true
			}
		}
		return m
	}
	ten, fifty, all := in(10), in(50), in(100)
	if len(all) != 2000 {
		t.Fatalf("100%%: %d of 2000", len(all))
	}
	if len(ten) < 120 || len(ten) > 280 || len(fifty) < 850 || len(fifty) > 1150 {
		t.Fatalf("10%%: %d, 50%%: %d of 2000", len(ten), len(fifty))
	}
	// Raising the share only adds hosts.
	for h := range ten {
		if !fifty[h] {
			t.Fatalf("%s offered at 10%% but not at 50%%", h)
		}
	}
}

func TestOfferAndFiles(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"metadata/timestamp.json", "targets/vigil/1.0.1/linux-amd64/ab.vigil", "secret.txt"} {
		p := filepath.Join(dir, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if o, err := s.Get(); err != nil || o != nil || s.For("h") != nil {
		t.Fatalf("no offer yet: %v %v", o, err)
	}
	for _, bad := range []Offer{{Version: "x", Percent: 10}, {Version: "1.0.1", Percent: 0}, {Version: "1.0.1", Percent: 101}} {
		if err := s.Set(bad); err == nil {
			t.Errorf("offer %+v accepted", bad)
		}
	}
	if err := s.Set(Offer{Version: "1.0.1", Percent: 100}); err != nil {
		t.Fatal(err)
	}
	if o := s.For("h"); o == nil || o.Version != "1.0.1" {
		t.Fatalf("offer for h: %+v", o)
	}
	// Another replica sharing the folder sees it.
	s2, _ := New(dir)
	if o, _ := s2.Get(); o == nil || o.Version != "1.0.1" {
		t.Fatalf("second replica: %+v", o)
	}
	if v := s.Versions(); len(v) != 1 || v[0] != "1.0.1" {
		t.Fatalf("versions %v", v)
	}
	if err := s.Clear(); err != nil || s.For("h") != nil {
		t.Fatalf("clear: %v", err)
	}
	// Backslashes are separators on Windows, where this name would climb out to secret.txt;
	// elsewhere it is a file name, made here so that only the check can refuse it.
	backslashed := `metadata/x\..\..\secret.txt`
	if runtime.GOOS != "windows" {
		if err := os.WriteFile(filepath.Join(dir, backslashed), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for path, want := range map[string]int{
		"metadata/timestamp.json": 200, "targets/vigil/1.0.1/linux-amd64/ab.vigil": 200,
		"secret.txt": 404, "../secret.txt": 404, "metadata/../secret.txt": 404, "offer.json": 404, "metadata": 404,
		backslashed: 404,
	} {
		rec := httptest.NewRecorder()
		s.ServeFile(rec, httptest.NewRequest("GET", "/x", nil), path)
		if rec.Code != want {
			t.Errorf("%s: %d, want %d", path, rec.Code, want)
		}
	}
}
