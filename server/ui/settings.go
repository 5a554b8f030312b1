package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/internal/wire"
	"github.com/vigilhq/vigil/server/api"
	"github.com/vigilhq/vigil/server/auth"
	"github.com/vigilhq/vigil/server/forward"
	"github.com/vigilhq/vigil/server/ingest"
	"github.com/vigilhq/vigil/server/store"
)

var settingsTabs = []struct {
	value, label string
	admin        bool
}{
	{"account", "Account & API tokens", false},
	{"users", "Users", true},
	{"enroll", "Enroll secrets", true},
	{"networks", "Office networks", true},
	{"destinations", "Alert destinations", true},
	{"suppressions", "Suppressions", false},
	{"retention", "Retention", true},
	{"sso", "Single sign-on", true},
}

var retentionLabels = map[string]string{store.TableEvents: "Events", store.TableFindings: "Findings", store.TableAudit: "Audit log", store.TableFleetFacts: "Fleet facts"}

func (u *UI) settings(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	ctx := r.Context()
	tab := r.PathValue("tab")
	if tab == "" {
		tab = "account"
	}
	v := settingsView{Base: c.base("settings", "Settings"), Tab: tab, Levels: []string{"informational", "low", "medium", "high", "critical"},
		Transports: []string{"tcp", "tls", "udp"}}
	known := false
	for _, t := range settingsTabs {
		if t.admin && !v.IsAdmin {
			continue
		}
		v.Tabs = append(v.Tabs, option{Value: t.value, Label: t.label, On: t.value == tab})
		known = known || t.value == tab
	}
	if !known {
		return fmt.Errorf("settings tab %q: %w", tab, store.ErrNotFound)
	}
	if raw, err := r.Cookie(secretCookie); err == nil {
		if label, value, ok := strings.Cut(raw.Value, "|"); ok {
			v.NewSecret = &secretView{Label: label, Value: value}
		}
		http.SetCookie(w, u.cookie(secretCookie, "", -1))
	}
	switch tab {
	case "account":
		v.HasPassword = c.user.PasswordHash != ""
		toks, err := u.st.ListAPITokens(ctx, c.user.ID)
		if err != nil {
			return err
		}
		for _, t := range toks {
			v.Tokens = append(v.Tokens, tokenRow{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, RevokedAt: t.RevokedAt})
		}
	case "users":
		users, err := u.st.ListUsers(ctx)
		if err != nil {
			return err
		}
		for _, us := range users {
			v.Users = append(v.Users, userRow{ID: us.ID, Username: us.Username, Role: us.Role, Disabled: us.Disabled, HasPassword: us.PasswordHash != "", CreatedAt: us.CreatedAt})
		}
		for _, rl := range auth.Roles {
			v.Roles = append(v.Roles, string(rl))
		}
	case "enroll":
		secrets, err := u.st.ListEnrollSecrets(ctx)
		if err != nil {
			return err
		}
		for _, s := range secrets {
			v.Secrets = append(v.Secrets, enrollRow{ID: s.ID, Name: s.Name, CreatedBy: s.CreatedBy, CreatedAt: s.CreatedAt, RevokedAt: s.RevokedAt})
		}
	case "networks":
		on, err := u.officeNetworks(ctx)
		if err != nil {
			return err
		}
		v.Networks = networksForm{CIDRs: strings.Join(on.CIDRs, "\n"), MACs: strings.Join(on.MACs, "\n"), BSSIDs: strings.Join(on.BSSIDs, "\n")}
	case "destinations":
		if err := u.destinationsTab(ctx, r, &v); err != nil {
			return err
		}
	case "suppressions":
		sups, err := u.st.ListSuppressions(ctx)
		if err != nil {
			return err
		}
		names := map[string]string{}
		for _, s := range sups {
			row := suppressionRow{ID: s.ID, Reason: s.Reason, By: s.CreatedBy, Created: s.CreatedAt, Expires: s.ExpiresAt, Hits: s.Hits,
				Expired: !s.ExpiresAt.After(u.cfg.Now()), FindingID: s.FindingID}
			if s.Kind == store.SuppressRuleHost {
				row.Scope = fmt.Sprintf("rule %s on %s", s.RuleID, u.hostname(ctx, names, s.HostID))
			} else {
				row.Scope = fmt.Sprintf("%s = %s, any host", s.Field, s.Value)
			}
			v.Suppressions = append(v.Suppressions, row)
		}
	case "retention":
		days, err := u.retention(ctx)
		if err != nil {
			return err
		}
		for _, t := range store.RetentionTables {
			v.Retention = append(v.Retention, retentionRow{Table: t, Label: retentionLabels[t], Days: days[t]})
		}
	case "sso":
		if u.cfg.OIDC != nil {
			oc := u.cfg.OIDC.Config()
			v.SSO = ssoInfo{Issuer: oc.Issuer, ClientID: oc.ClientID, RedirectURL: oc.RedirectURL, DefaultRole: oc.DefaultRole, AdminGroup: strings.Join(oc.AdminGroups, ", ")}
		}
	}
	return u.r.render(w, http.StatusOK, "settings", v)
}

// secretCookie carries a secret just created to the page that shows it once (a redirect after
// the form, so that reloading does not create another).
const secretCookie = "vigil_secret"

func (u *UI) showOnce(w http.ResponseWriter, label, value string) {
	c := u.cookie(secretCookie, label+"|"+value, 60)
	c.Path = "/settings"
	http.SetCookie(w, c)
}

func (u *UI) changePassword(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	ok, _ := auth.VerifyPassword(c.user.PasswordHash, r.PostFormValue("current"))
	if c.user.PasswordHash == "" || !ok {
		return c.redirect(w, "/settings/account", "err", "The current password is wrong.")
	}
	pw := r.PostFormValue("new")
	if len(pw) < 12 {
		return c.redirect(w, "/settings/account", "err", "The new password needs at least 12 characters.")
	}
	h, err := auth.HashPassword(pw)
	if err != nil {
		return err
	}
	user := c.user
	user.PasswordHash = h
	if err := u.st.UpdateUser(r.Context(), user); err != nil {
		return err
	}
	u.forgetTokens(func(p auth.Principal) bool { return p.UserID == user.ID })
	c.audit("changePassword", c.user.ID, nil)
	if u.cfg.PasswordChanged != nil {
		u.cfg.PasswordChanged(user)
	}
	return c.redirect(w, "/settings/account", "ok", "Password changed.")
}

func (u *UI) createToken(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	name := strings.TrimSpace(r.PostFormValue("name"))
	if name == "" || len(name) > 128 {
		return &wire.Error{Code: wire.CodeBadRequest, Message: "want a token name of 1 to 128 bytes", Field: "name"}
	}
	value, hash := auth.NewToken(auth.PrefixAPI)
	t := store.APIToken{ID: event.NewID(), UserID: c.user.ID, Name: name, Hash: hash, CreatedAt: u.cfg.Now().UTC()}
	if e := r.PostFormValue("expires"); e != "" {
		d, err := time.ParseDuration(e)
		if err != nil || d <= 0 || d > 10*365*24*time.Hour {
			return &wire.Error{Code: wire.CodeBadRequest, Message: "expiry: want a duration up to ten years", Field: "expires"}
		}
		exp := t.CreatedAt.Add(d)
		t.ExpiresAt = &exp
	}
	if err := u.st.CreateAPIToken(r.Context(), t); err != nil {
		return err
	}
	c.audit("createToken", t.ID, map[string]string{"name": name})
	u.showOnce(w, "API token "+name, value)
	return c.redirect(w, "/settings/account", "ok", "Token created.")
}

func (u *UI) revokeToken(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	id := r.PathValue("id")
	toks, err := u.st.ListAPITokens(r.Context(), "")
	if err != nil {
		return err
	}
	i := slices.IndexFunc(toks, func(t store.APIToken) bool { return t.ID == id })
	if i < 0 || (toks[i].UserID != c.user.ID && !c.role.Allows(auth.RoleAdmin)) {
		return fmt.Errorf("token %q: %w", id, store.ErrNotFound)
	}
	if err := u.st.RevokeAPIToken(r.Context(), id, u.cfg.Now().UTC()); err != nil {
		return err
	}
	u.forgetTokens(func(p auth.Principal) bool { return p.TokenID == id })
	c.audit("revokeToken", id, nil)
	return c.redirect(w, "/settings/account", "ok", "Token revoked.")
}

// forgetTokens drops cached API tokens that match.
func (u *UI) forgetTokens(match func(auth.Principal) bool) {
	if u.cfg.ForgetTokens != nil {
		u.cfg.ForgetTokens(match)
	}
}

func (u *UI) createUser(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	name := strings.TrimSpace(r.PostFormValue("username"))
	role, err := auth.ParseRole(r.PostFormValue("role"))
	if err != nil {
		return &wire.Error{Code: wire.CodeBadRequest, Message: err.Error(), Field: "role"}
	}
	if name == "" || len(name) > 64 || strings.ContainsAny(name, " \t\r\n") {
		return &wire.Error{Code: wire.CodeBadRequest, Message: "want a user name of 1 to 64 characters without spaces", Field: "username"}
	}
	pw := auth.NewPassword()
	h, err := auth.HashPassword(pw)
	if err != nil {
		return err
	}
	user := store.User{ID: event.NewID(), Username: name, PasswordHash: h, Role: string(role), CreatedAt: u.cfg.Now().UTC()}
	if err := u.st.CreateUser(r.Context(), user); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return c.redirect(w, "/settings/users", "err", "A user named "+name+" exists.")
		}
		return err
	}
	c.audit("createUser", user.ID, map[string]string{"username": name, "role": string(role)})
	u.showOnce(w, "First password of "+name, pw)
	return c.redirect(w, "/settings/users", "ok", "User "+name+" created.")
}

func (u *UI) updateUser(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	user, err := u.st.User(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	role, err := auth.ParseRole(r.PostFormValue("role"))
	if err != nil {
		return &wire.Error{Code: wire.CodeBadRequest, Message: err.Error(), Field: "role"}
	}
	disabled := r.PostFormValue("disabled") != ""
	if user.ID == c.user.ID && (disabled || role != auth.RoleAdmin) {
		return c.redirect(w, "/settings/users", "err", "You cannot demote or disable yourself; ask another admin.")
	}
	user.Role, user.Disabled = string(role), disabled
	if err := u.st.UpdateUser(r.Context(), user); err != nil {
		return err
	}
	u.forgetTokens(func(p auth.Principal) bool { return p.UserID == user.ID })
	if disabled {
		if err := u.st.DeleteUserSessions(r.Context(), user.ID); err != nil {
			return err
		}
	}
	c.audit("updateUser", user.ID, map[string]any{"role": user.Role, "disabled": disabled})
	return c.redirect(w, "/settings/users", "ok", "Saved "+user.Username+".")
}

func (u *UI) createEnrollSecret(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	name := strings.TrimSpace(r.PostFormValue("name"))
	if name == "" || len(name) > 128 {
		return &wire.Error{Code: wire.CodeBadRequest, Message: "want a name of 1 to 128 bytes", Field: "name"}
	}
	s, value, err := api.NewEnrollSecret(r, u.st, name, c.user.Username, u.cfg.Now())
	if err != nil {
		return err
	}
	c.audit("createEnrollSecret", s.ID, map[string]string{"name": name})
	u.showOnce(w, "Enroll secret "+name, value)
	return c.redirect(w, "/settings/enroll", "ok", "Enroll secret created.")
}

func (u *UI) revokeEnrollSecret(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	if err := u.st.RevokeEnrollSecret(r.Context(), r.PathValue("id"), u.cfg.Now().UTC()); err != nil {
		return err
	}
	c.audit("revokeEnrollSecret", r.PathValue("id"), nil)
	return c.redirect(w, "/settings/enroll", "ok", "Enroll secret revoked; agents already enrolled keep working.")
}

// officeSet is the office networks, ready to test values against.
type officeSet struct{ store.OfficeNetworks }

func (o officeSet) covers(kind, value string) bool {
	switch kind {
	case "egress":
		ip := net.ParseIP(value)
		for _, c := range o.CIDRs {
			if _, n, err := net.ParseCIDR(c); err == nil && ip != nil && n.Contains(ip) {
				return true
			}
		}
	case "gateway":
		return slices.ContainsFunc(o.MACs, func(m string) bool { return ingest.NormalizeMAC(m) == ingest.NormalizeMAC(value) })
	case "bssid":
		return slices.ContainsFunc(o.BSSIDs, func(m string) bool { return ingest.NormalizeMAC(m) == ingest.NormalizeMAC(value) })
	}
	return false
}

func (u *UI) jsonSetting(ctx context.Context, key string, v any) (bool, error) {
	raw, err := u.st.Setting(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal([]byte(raw), v); err != nil {
		return false, fmt.Errorf("setting %s: %w", key, err)
	}
	return true, nil
}

func (u *UI) putJSONSetting(ctx context.Context, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return u.st.PutSetting(ctx, key, string(b))
}

func (u *UI) officeNetworks(ctx context.Context) (officeSet, error) {
	var on store.OfficeNetworks
	_, err := u.jsonSetting(ctx, store.SettingOfficeNetworks, &on)
	return officeSet{on}, err
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' || r == ',' }) {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func (u *UI) saveNetworks(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	on := store.OfficeNetworks{CIDRs: lines(r.PostFormValue("cidrs")), MACs: lines(r.PostFormValue("macs")), BSSIDs: lines(r.PostFormValue("bssids"))}
	for i, cidr := range on.CIDRs {
		if !strings.Contains(cidr, "/") {
			if ip := net.ParseIP(cidr); ip != nil {
				bits := 32
				if ip.To4() == nil {
					bits = 128
				}
				on.CIDRs[i] = fmt.Sprintf("%s/%d", cidr, bits)
				continue
			}
		}
		if _, _, err := net.ParseCIDR(on.CIDRs[i]); err != nil {
			return &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("office network %q: not an address or CIDR", cidr), Field: "cidrs"}
		}
	}
	for _, m := range append(append([]string{}, on.MACs...), on.BSSIDs...) {
		if _, err := net.ParseMAC(m); err != nil {
			return &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("%q: not a MAC address", m), Field: "macs"}
		}
	}
	if u.cfg.ApplyOffice != nil {
		if err := u.cfg.ApplyOffice(on); err != nil {
			return &wire.Error{Code: wire.CodeBadRequest, Message: err.Error(), Field: "cidrs"}
		}
	}
	if err := u.putJSONSetting(r.Context(), store.SettingOfficeNetworks, on); err != nil {
		return err
	}
	c.audit("setOfficeNetworks", "", on)
	return c.redirect(w, "/settings/networks", "ok", "Office networks saved; the next fleet pass leaves them out.")
}

func (u *UI) retention(ctx context.Context) (map[string]int, error) {
	days := map[string]int{}
	for k, v := range u.cfg.Retention {
		days[k] = v
	}
	_, err := u.jsonSetting(ctx, store.SettingRetention, &days)
	return days, err
}

func (u *UI) saveRetention(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	days := map[string]int{}
	for _, t := range store.RetentionTables {
		n, err := strconv.Atoi(strings.TrimSpace(r.PostFormValue(t)))
		if err != nil || n < 0 || n > 3650 {
			return &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("%s: want 0 to 3650 days", retentionLabels[t]), Field: t}
		}
		days[t] = n
	}
	if u.cfg.ApplyRetention != nil {
		if err := u.cfg.ApplyRetention(days); err != nil {
			return err
		}
	}
	if err := u.putJSONSetting(r.Context(), store.SettingRetention, days); err != nil {
		return err
	}
	c.audit("setRetention", "", days)
	return c.redirect(w, "/settings/retention", "ok", "Retention saved.")
}

// Destinations returns the alert destinations saved in the store.
func Destinations(ctx context.Context, st store.Settings) ([]forward.Config, error) {
	raw, err := st.Setting(ctx, store.SettingDestinations)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var cfgs []forward.Config
	if err := json.Unmarshal([]byte(raw), &cfgs); err != nil {
		return nil, fmt.Errorf("setting %s: %w", store.SettingDestinations, err)
	}
	return cfgs, nil
}

func (u *UI) destinationsTab(ctx context.Context, r *http.Request, v *settingsView) error {
	cfgs, err := Destinations(ctx, u.st)
	if err != nil {
		return err
	}
	stats, err := u.st.Stats(ctx)
	if err != nil {
		return err
	}
	by := map[string]forward.OutboxStats{}
	for _, s := range stats {
		by[s.Destination] = s
	}
	for _, dc := range cfgs {
		row := destRow{Name: dc.Name, Type: dc.Type, Format: dc.Format, Enabled: dc.Enabled, Pending: by[dc.Name].Pending,
			Failing: by[dc.Name].Failing, LastError: by[dc.Name].LastError, FilterText: filterText(dc.Filter)}
		switch dc.Type {
		case forward.TypeSyslog:
			row.Target = dc.Network + "://" + dc.Address
		case forward.TypeFile:
			row.Target = dc.Path
		default:
			row.Target = dc.URL
		}
		v.Destinations = append(v.Destinations, row)
		if dc.Name == r.URL.Query().Get("edit") {
			v.Edit = dc.Redacted()
		}
	}
	v.DestTypes = []option{{Value: "webhook", Label: "Webhook (JSON or Slack)"}, {Value: "syslog", Label: "Syslog (RFC 5424 / CEF)"},
		{Value: "hec", Label: "Splunk HEC"}, {Value: "file", Label: "ECS JSON lines file"}}
	return nil
}

func filterText(f forward.Filter) string {
	var parts []string
	if f.MinLevel != "" {
		parts = append(parts, f.MinLevel+" and above")
	}
	if len(f.Rules) > 0 {
		parts = append(parts, "rules "+strings.Join(f.Rules, ", "))
	}
	if len(f.ExcludeRules) > 0 {
		parts = append(parts, "except "+strings.Join(f.ExcludeRules, ", "))
	}
	if len(parts) == 0 {
		return "every finding"
	}
	return strings.Join(parts, "; ")
}

func (u *UI) putDestinations(ctx context.Context, cfgs []forward.Config) error {
	if u.cfg.Forward != nil {
		if err := u.cfg.Forward.SetDestinations(cfgs); err != nil {
			return err
		}
	}
	return u.putJSONSetting(ctx, store.SettingDestinations, cfgs)
}

func (u *UI) saveDestination(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	ctx := r.Context()
	cfgs, err := Destinations(ctx, u.st)
	if err != nil {
		return err
	}
	f := r.PostFormValue
	dc := forward.Config{Name: strings.TrimSpace(f("name")), Type: f("type"), Enabled: f("enabled") != "", URL: strings.TrimSpace(f("url")),
		Address: strings.TrimSpace(f("address")), Network: f("network"), Path: strings.TrimSpace(f("path")), CAFile: strings.TrimSpace(f("ca_file")),
		Secret: f("secret"), Filter: forward.Filter{MinLevel: f("min_level"), Rules: lines(f("rules")), ExcludeRules: lines(f("exclude_rules"))}}
	switch dc.Type {
	case forward.TypeWebhook:
		dc.Format = forward.FormatJSON
		if strings.Contains(dc.URL, "hooks.slack.com") || f("format") == forward.FormatSlack {
			dc.Format = forward.FormatSlack
		}
	case forward.TypeSyslog:
		dc.Format = forward.FormatText
		if f("format") == forward.FormatCEF {
			dc.Format = forward.FormatCEF
		}
	}
	i := slices.IndexFunc(cfgs, func(x forward.Config) bool { return x.Name == dc.Name })
	if i >= 0 && dc.Secret == "" {
		dc.Secret = cfgs[i].Secret // the form shows no secret: empty keeps it
	}
	if err := dc.Validate(); err != nil {
		return err
	}
	if i >= 0 {
		cfgs[i] = dc
	} else {
		cfgs = append(cfgs, dc)
	}
	if err := u.putDestinations(ctx, cfgs); err != nil {
		return err
	}
	c.audit("saveDestination", dc.Name, dc.Redacted())
	return c.redirect(w, "/settings/destinations", "ok", "Destination "+dc.Name+" saved.")
}

func (u *UI) deleteDestination(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	ctx := r.Context()
	name := r.PathValue("id")
	cfgs, err := Destinations(ctx, u.st)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(cfgs, func(x forward.Config) bool { return x.Name == name })
	if i < 0 {
		return fmt.Errorf("destination %q: %w", name, store.ErrNotFound)
	}
	if err := u.putDestinations(ctx, slices.Delete(cfgs, i, i+1)); err != nil {
		return err
	}
	dropped, err := u.st.Drop(ctx, name)
	if err != nil {
		return err
	}
	c.audit("deleteDestination", name, map[string]int64{"dropped": dropped})
	return c.redirect(w, "/settings/destinations", "ok", fmt.Sprintf("Destination %s deleted (%d waiting alerts dropped).", name, dropped))
}

func (u *UI) testDestination(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	name := r.PathValue("id")
	cfgs, err := Destinations(r.Context(), u.st)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(cfgs, func(x forward.Config) bool { return x.Name == name })
	if i < 0 {
		return fmt.Errorf("destination %q: %w", name, store.ErrNotFound)
	}
	a := forward.Alert{ID: "test-" + event.NewID(), RuleID: "vigil-test-alert", Title: "Vigil test alert (nothing happened)", Level: "informational",
		Author: "Vigil", Time: u.cfg.Now().UTC(), Hostname: "vigil-test"}
	err = forward.Test(r.Context(), cfgs[i], &a)
	c.audit("testDestination", name, map[string]bool{"ok": err == nil})
	if err != nil {
		return c.redirect(w, "/settings/destinations", "err", "Test to "+name+" failed: "+err.Error())
	}
	return c.redirect(w, "/settings/destinations", "ok", "Test alert delivered to "+name+".")
}

func (u *UI) auditLog(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	q := r.URL.Query()
	f := store.AuditFilter{Actor: q.Get("actor"), Action: q.Get("action"), Target: q.Get("target"), Page: store.Page{Limit: 100, Cursor: q.Get("cursor")}}
	entries, next, err := u.st.ListAudit(r.Context(), f)
	if err != nil {
		return err
	}
	v := auditView{Base: c.base("audit", "Audit log"), Actor: f.Actor, Action: f.Action, Target: f.Target,
		Actions: []string{"login", "loginFailed", "logout", "setFindingStatus", "assignFinding", "commentFinding", "createSuppression", "deleteSuppression",
			"createRule", "updateRule", "deleteRule", "disableBuiltinRule", "enableBuiltinRule", "createUser", "updateUser", "createToken", "revokeToken",
			"createEnrollSecret", "revokeEnrollSecret", "saveDestination", "deleteDestination", "setOfficeNetworks", "setRetention", "agentEnroll"}}
	for _, e := range entries {
		row := auditRow{Time: e.Time, Actor: e.Actor, Action: e.Action, Target: e.Target, Remote: e.Remote, Details: string(e.Details)}
		switch {
		case strings.HasSuffix(e.Action, "Finding") || e.Action == "setFindingStatus":
			row.TargetHref = "/findings/" + e.Target
		}
		v.Entries = append(v.Entries, row)
	}
	if next != "" {
		nq := r.URL.Query()
		nq.Set("cursor", next)
		v.NextHref = "/audit?" + nq.Encode()
	}
	return u.r.render(w, http.StatusOK, "audit", v)
}
