package api

import (
	"net/http"

	"github.com/vigilhq/vigil/internal/wire"
	"github.com/vigilhq/vigil/server/auth"
	"github.com/vigilhq/vigil/server/updates"
)

// upgradeState answers GET /api/v1/upgrade.
type upgradeState struct {
	Offer *updates.Offer `json:"offer"`
	// Versions the repository folder holds binaries for.
	Versions []string `json:"versions"`
}

func (a *API) upgradeRoutes() []Route {
	ad := auth.RoleAdmin
	return []Route{
		{Method: http.MethodGet, Pattern: wire.PathUpdates + "/{path...}", Op: "agentUpdates", Tag: "agent", Auth: AuthAgent, NoAudit: true,
			Summary: "The release repository: TUF metadata (metadata/) and signed binaries (targets/); agents verify both against their release root",
			Query:   []Param{{Name: "path", In: "path", Type: "string", Description: "metadata/NAME or targets/vigil/VERSION/OS-ARCH/HASH.vigil"}},
			Handler: a.updateFile},
		{Method: http.MethodGet, Pattern: "/api/v1/upgrade", Op: "getUpgrade", Tag: "upgrade", Auth: AuthUser, Role: auth.RoleViewer,
			Summary: "The upgrade offered to agents and the versions the repository holds", Response: upgradeState{}, Handler: a.getUpgrade},
		{Method: http.MethodPut, Pattern: "/api/v1/upgrade", Op: "setUpgrade", Tag: "upgrade", Auth: AuthUser, Role: ad,
			Summary: "Offer a version to a share of the hosts (percent 1-100); agents install it only if the release key signed it",
			Request: updates.Offer{}, Response: updates.Offer{}, Handler: a.setUpgrade},
		{Method: http.MethodDelete, Pattern: "/api/v1/upgrade", Op: "clearUpgrade", Tag: "upgrade", Auth: AuthUser, Role: ad,
			Summary: "Withdraw the upgrade offer", Status: http.StatusNoContent, Handler: a.clearUpgrade},
	}
}

// upgradeOffer is the offer for the calling agent's host, if any.
func (a *API) upgradeOffer(r *http.Request) *wire.UpgradeOffer {
	if a.d.Updates == nil {
		return nil
	}
	return a.d.Updates.For(agentOf(r).HostID)
}

func (a *API) noUpdates(w http.ResponseWriter) bool {
	if a.d.Updates != nil {
		return false
	}
	writeError(w, &wire.Error{Code: wire.CodeNotFound, Message: "this server serves no release repository (start it with --updates-dir)"})
	return true
}

func (a *API) updateFile(w http.ResponseWriter, r *http.Request) {
	if a.noUpdates(w) {
		return
	}
	a.d.Updates.ServeFile(w, r, r.PathValue("path"))
}

func (a *API) getUpgrade(w http.ResponseWriter, r *http.Request) {
	if a.noUpdates(w) {
		return
	}
	o, err := a.d.Updates.Get()
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, upgradeState{Offer: o, Versions: a.d.Updates.Versions()})
}

func (a *API) setUpgrade(w http.ResponseWriter, r *http.Request) {
	if a.noUpdates(w) {
		return
	}
	var o updates.Offer
	if werr := decodeJSON(w, r, &o, 4<<10, 4<<10, true); werr != nil {
		writeError(w, werr)
		return
	}
	if err := o.Validate(); err != nil {
		writeError(w, &wire.Error{Code: wire.CodeBadRequest, Message: err.Error(), Field: map[bool]string{true: "percent", false: "version"}[o.Version != "" && o.Percent != 0 && (o.Percent < 1 || o.Percent > 100)]})
		return
	}
	if err := a.d.Updates.Set(o); err != nil {
		a.fail(w, r, err)
		return
	}
	Audit(r, o.Version, o)
	cur, _ := a.d.Updates.Get()
	writeJSON(w, http.StatusOK, cur)
}

func (a *API) clearUpgrade(w http.ResponseWriter, r *http.Request) {
	if a.noUpdates(w) {
		return
	}
	if err := a.d.Updates.Clear(); err != nil {
		a.fail(w, r, err)
		return
	}
	Audit(r, "", nil)
	w.WriteHeader(http.StatusNoContent)
}
