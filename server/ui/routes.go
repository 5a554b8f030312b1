package ui

import (
	"net/http"

	"github.com/vigilhq/vigil/server/auth"
)

// table is the UI's route table: every page and form, the least role it needs, and for forms
// the action name the audit log records. wrap enforces it; a test walks it.
func (u *UI) table() []route {
	get, post := http.MethodGet, http.MethodPost
	v, an, ad := auth.RoleViewer, auth.RoleAnalyst, auth.RoleAdmin
	return []route{
		{get, "/{$}", "", v, u.overview},
		{post, "/logout", "logout", v, u.logout},
		{get, "/search", "", v, u.search},

		{get, "/findings", "", v, u.findings},
		{post, "/findings/bulk", "setFindingStatus", an, u.bulkTriage},
		{get, "/findings/{id}", "", v, u.finding},
		{post, "/findings/{id}/triage", "setFindingStatus", an, u.triageOne},
		{post, "/suppressions", "createSuppression", an, u.createSuppression},
		{post, "/suppressions/{id}/delete", "deleteSuppression", an, u.deleteSuppression},

		{get, "/hosts", "", v, u.hosts},
		{get, "/hosts/{id}", "", v, u.host},
		{get, "/hosts/{id}/timeline", "", v, u.timeline},
		{get, "/fleet", "", v, u.fleet},

		{get, "/rules", "", v, u.rules},
		{get, "/rules/new", "", ad, u.ruleNew},
		{post, "/rules/new", "createRule", ad, u.ruleSave},
		{post, "/rules/lint", "", v, u.ruleLint},
		{post, "/rules/test", "", v, u.ruleTest},
		{get, "/rules/builtin/{id}", "", v, u.ruleBuiltin},
		{post, "/rules/builtin/{id}/disable", "disableBuiltinRule", ad, u.ruleToggle(true)},
		{post, "/rules/builtin/{id}/enable", "enableBuiltinRule", ad, u.ruleToggle(false)},
		{get, "/rules/{id}", "", v, u.ruleEdit},
		{post, "/rules/{id}", "updateRule", ad, u.ruleSave},
		{post, "/rules/{id}/delete", "deleteRule", ad, u.ruleDelete},

		{get, "/audit", "", ad, u.auditLog},

		{get, "/settings", "", v, u.settings},
		{get, "/settings/{tab}", "", v, u.settings},
		{post, "/settings/password", "changePassword", v, u.changePassword},
		{post, "/settings/tokens", "createToken", v, u.createToken},
		{post, "/settings/tokens/{id}/revoke", "revokeToken", v, u.revokeToken},
		{post, "/settings/users", "createUser", ad, u.createUser},
		{post, "/settings/users/{id}", "updateUser", ad, u.updateUser},
		{post, "/settings/enroll", "createEnrollSecret", ad, u.createEnrollSecret},
		{post, "/settings/enroll/{id}/revoke", "revokeEnrollSecret", ad, u.revokeEnrollSecret},
		{post, "/settings/networks", "setOfficeNetworks", ad, u.saveNetworks},
		{post, "/settings/retention", "setRetention", ad, u.saveRetention},
		{post, "/settings/destinations", "saveDestination", ad, u.saveDestination},
		{post, "/settings/destinations/{id}/delete", "deleteDestination", ad, u.deleteDestination},
		{post, "/settings/destinations/{id}/test", "testDestination", ad, u.testDestination},
	}
}
