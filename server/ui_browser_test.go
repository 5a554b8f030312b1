package server

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/server/auth"
	"github.com/vigilhq/vigil/server/store"
)

// chromium returns the browser the UI tests drive: $VIGIL_CHROMIUM (.ci/run sets it), else
// chromium on the PATH. Without one the test skips, unless VIGIL_REQUIRE_TESTDATA=1.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("VIGIL_CHROMIUM"); p != "" {
		return p
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("VIGIL_REQUIRE_TESTDATA") == "1" {
		t.Fatal("no chromium (set VIGIL_CHROMIUM; .ci/run installs Debian's chromium)")
	}
	t.Skip("no chromium: browser tests skipped (set VIGIL_CHROMIUM; .ci/run installs it)")
	return ""
}

// browser starts headless Chromium with the flags the project runs it with.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("ignore-certificate-errors", true), // the server's own CA
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 1000),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelT(); cancelB(); cancelA() })
	return ctx
}

type css = chromedp.CSS

func run(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		t.Fatalf("%s (at %s): %v", what, loc, err)
	}
}

// value runs one action that returns a value.
func value[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		t.Fatalf("%s (at %s): %v", what, loc, err)
	}
	return v
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return value(t, ctx, "read "+sel, chromedp.Text(css(sel)))
}

// fetchStatus makes the page send a request with fetch and returns the HTTP status.
func fetchStatus(t *testing.T, ctx context.Context, js string) int {
	t.Helper()
	return value(t, ctx, "fetch", chromedp.Evaluate[int](js, chromedp.EvalAwaitPromise))
}

// screenshot saves the viewport as name.png (in $VIGIL_UI_SCREENSHOTS when set, to refresh
// docs/img) and checks it is not blank.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	buf := value(t, ctx, "screenshot "+name, chromedp.CaptureScreenshot())
	img, err := png.Decode(bytes.NewReader(buf))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if n := colours(img); n < 40 {
		t.Errorf("screenshot %s looks blank: %d distinct colours", name, n)
	}
	dir := os.Getenv("VIGIL_UI_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644); err != nil {
		t.Fatal(err)
	}
}

func colours(img image.Image) int {
	seen := map[uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bb, _ := img.At(x, y).RGBA()
			seen[(r>>8)<<16|(g>>8)<<8|bb>>8] = true
		}
	}
	return len(seen)
}

func login(t *testing.T, ctx context.Context, base, user, password string) {
	t.Helper()
	run(t, ctx, "sign in as "+user,
		chromedp.Navigate(base+"/findings"),
		chromedp.WaitVisible(css(`#username`)),
		chromedp.SendKeys(css(`#username`), user),
		chromedp.SendKeys(css(`#password`), password),
		chromedp.Submit(css(`#password`)),
		chromedp.WaitVisible(css(`.queue`)),
	)
}

// TestBrowserWorkbench drives the web UI in headless Chromium against a server with a seeded
// fleet: sign in, see the seeded finding in the queue, open it, mark it false positive with a
// comment, find that in the audit log; a viewer sees no triage controls and is refused by the
// UI and the API alike; a form posted without its CSRF token is refused. It saves screenshots
// of the overview, the queue, a finding and a host.
func TestBrowserWorkbench(t *testing.T) {
	ctx := browser(t)
	const adminPassword = "correct-horse-battery-staple"
	srv, c := testServer(t, func(cfg *Config) { cfg.AdminPassword = adminPassword })
	seed := seedWorkbench(t, srv, c)
	base := srv.LocalURL()
	hash, err := auth.HashPassword("viewer-password-123")
	if err != nil {
		t.Fatal(err)
	}
	viewer := store.User{ID: event.NewID(), Username: "vera", PasswordHash: hash, Role: string(auth.RoleViewer), CreatedAt: time.Now()}
	if err := srv.Store().CreateUser(t.Context(), viewer); err != nil {
		t.Fatal(err)
	}

	// A page without a session goes to the login form.
	run(t, ctx, "open the queue signed out", chromedp.Navigate(base+"/findings"), chromedp.WaitVisible(css(`form[action="/login"]`)))
	loc := value(t, ctx, "location", chromedp.Location())
	if !strings.Contains(loc, "/login?next=%2Ffindings") {
		t.Errorf("signed-out queue went to %s, want the login form", loc)
	}
	screenshot(t, ctx, "login")

	login(t, ctx, base, "admin", adminPassword)
	queue := text(t, ctx, ".queue")
	for _, want := range []string{"nk-laptop-07", "AnyDesk Running on Windows", "Remote-Access Tool and IP-KVM on the Same Host", "Fleet (laptop farms)"} {
		if !strings.Contains(queue, want) {
			t.Errorf("queue lacks %q:\n%s", want, queue)
		}
	}
	// the worst host first: nk-laptop-07 has the critical finding
	if first := text(t, ctx, ".queue .case .host"); first != "nk-laptop-07" {
		t.Errorf("first case is %q, want nk-laptop-07", first)
	}
	screenshot(t, ctx, "queue")

	// keyboard: j moves to the first finding, o opens it
	run(t, ctx, "keyboard navigation", chromedp.KeyEvent("j"), chromedp.WaitVisible(css(`tr.row-finding.current`)))

	run(t, ctx, "open the AnyDesk finding",
		chromedp.Click(css(`a.title[href="/findings/`+seed.anydesk+`"]`)),
		chromedp.WaitVisible(css(`#comment-form`)))
	detail := text(t, ctx, ".content")
	for _, want := range []string{"AnyDesk Running on Windows", "AnyDesk.exe", "Vigil project", "nk-laptop-07", "selection_image"} {
		if !strings.Contains(detail, want) {
			t.Errorf("finding page lacks %q", want)
		}
	}
	screenshot(t, ctx, "finding")

	// A form posted without the CSRF token is refused.
	if st := fetchStatus(t, ctx, `fetch("/findings/`+seed.anydesk+`/triage", {method: "POST", body: new URLSearchParams({status: "investigating"}), credentials: "same-origin"}).then(r => r.status)`); st != 403 {
		t.Errorf("POST without a CSRF token: %d, want 403", st)
	}

	run(t, ctx, "mark false positive with a comment",
		chromedp.SendKeys(css(`#comment`), "IT helpdesk's own AnyDesk, ticket 4411"),
		chromedp.SetValue(css(`#comment-status`), "false_positive"),
		chromedp.Submit(css(`#comment`)),
		chromedp.WaitVisible(css(`.flash.ok`)))
	if got := text(t, ctx, ".flash.ok"); !strings.Contains(got, "False positive") {
		t.Errorf("flash after triage: %q", got)
	}
	if got := text(t, ctx, ".page-head .status"); got != "False positive" {
		t.Errorf("status badge %q, want False positive", got)
	}
	if got := text(t, ctx, ".comments"); !strings.Contains(got, "ticket 4411") {
		t.Errorf("comment not shown: %q", got)
	}
	if f, err := srv.Store().Finding(t.Context(), seed.anydesk); err != nil || f.Status != store.StatusFalsePositive {
		t.Errorf("stored status %q (%v)", f.Status, err)
	}

	run(t, ctx, "the audit log", chromedp.Navigate(base+"/audit?target="+seed.anydesk), chromedp.WaitVisible(css(`table`)))
	audit := text(t, ctx, "table")
	if !strings.Contains(audit, "setFindingStatus") || !strings.Contains(audit, "commentFinding") || !strings.Contains(audit, "admin") || !strings.Contains(audit, "false_positive") {
		t.Errorf("audit log lacks the triage:\n%s", audit)
	}

	run(t, ctx, "the overview", chromedp.Navigate(base+"/"), chromedp.WaitVisible(css(`svg.chart`)))
	overview := text(t, ctx, ".content")
	if !strings.Contains(overview, "Laptop-farm clusters") || !strings.Contains(overview, "farm-a-02") {
		t.Errorf("overview lacks the laptop farm:\n%s", overview)
	}
	screenshot(t, ctx, "overview")

	run(t, ctx, "a host", chromedp.Navigate(base+"/hosts/"+seed.anyHost), chromedp.WaitVisible(css(`#inv-usb_device`)))
	host := text(t, ctx, ".content")
	for _, want := range []string{"PiKVM Composite Device", "Queue losses", "3c:22:fb:10:00:07"} {
		if !strings.Contains(host, want) {
			t.Errorf("host page lacks %q", want)
		}
	}
	screenshot(t, ctx, "host")

	// The viewer: no triage controls; the UI and the API refuse a status change.
	run(t, ctx, "sign out", chromedp.Navigate(base+"/"), chromedp.WaitVisible(css(`.me button`)),
		chromedp.Click(css(`.me button`)), chromedp.WaitVisible(css(`#username`)))
	login(t, ctx, base, "vera", "viewer-password-123")
	if value(t, ctx, "look for the bulk form", chromedp.Evaluate[bool](`document.querySelector("#bulk-form, input.pick") !== null`)) {
		t.Error("a viewer sees the bulk triage controls in the queue")
	}
	run(t, ctx, "viewer opens a finding", chromedp.Navigate(base+"/findings/"+seed.anydesk), chromedp.WaitVisible(css(`.comments`)))
	hasForm := value(t, ctx, "look for the triage form", chromedp.Evaluate[bool](`document.querySelector("#triage-form, #comment-form") !== null`))
	if hasForm {
		t.Error("a viewer is shown the triage form")
	}
	csrf := `document.querySelector('meta[name="csrf-token"]').content`
	if st := fetchStatus(t, ctx, `fetch("/findings/`+seed.anydesk+`/triage", {method: "POST", body: new URLSearchParams({status: "investigating", csrf: `+csrf+`}), credentials: "same-origin"}).then(r => r.status)`); st != 403 {
		t.Errorf("viewer's triage form post: %d, want 403", st)
	}
	if st := fetchStatus(t, ctx, `fetch("/api/v1/findings/`+seed.anydesk+`/status", {method: "POST", headers: {"Content-Type": "application/json", "X-CSRF-Token": `+csrf+`}, body: JSON.stringify({status: "investigating"}), credentials: "same-origin"}).then(r => r.status)`); st != 403 {
		t.Errorf("viewer's API status change with the session: %d, want 403", st)
	}
	tok, h := auth.NewToken(auth.PrefixAPI)
	if err := srv.Store().CreateAPIToken(t.Context(), store.APIToken{ID: event.NewID(), UserID: viewer.ID, Name: "t", Hash: h, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if r := do(t, c, "POST", base+"/api/v1/findings/"+seed.anydesk+"/status", tok, map[string]string{"status": "investigating"}); r.status != 403 {
		t.Errorf("viewer's API token status change: %d, want 403", r.status)
	}
	if r := do(t, c, "POST", base+"/api/v1/findings/triage", tok, map[string]any{"ids": []string{seed.anydesk}, "status": "investigating"}); r.status != 403 {
		t.Errorf("viewer's API token bulk triage: %d, want 403", r.status)
	}
	if f, _ := srv.Store().Finding(t.Context(), seed.anydesk); f.Status != store.StatusFalsePositive {
		t.Errorf("status changed by the viewer to %q", f.Status)
	}
}
