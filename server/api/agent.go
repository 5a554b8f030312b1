package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/vigilhq/vigil/internal/wire"
	"github.com/vigilhq/vigil/server/auth"
	"github.com/vigilhq/vigil/server/ingest"
	"github.com/vigilhq/vigil/server/store"
)

func (a *API) agentRoutes() []Route {
	return []Route{
		{Method: http.MethodPost, Pattern: wire.PathEnroll, Op: "agentEnroll", Tag: "agent", Auth: AuthEnroll,
			Summary: "Enroll an agent with the enroll secret; the same machine id gets the same host back",
			Request: wire.EnrollRequest{}, Response: wire.EnrollResponse{}, MaxBody: 64 << 10, Handler: a.enroll},
		{Method: http.MethodPost, Pattern: wire.PathBatch, Op: "agentBatch", Tag: "agent", Auth: AuthAgent, NoAudit: true,
			Summary: "Send events, findings, inventory and health; 200 once stored, re-sent ids ignored",
			Request: wire.Batch{}, Response: wire.BatchResponse{}, MaxBody: wire.MaxBodyBytes, Handler: a.batch},
		{Method: http.MethodPost, Pattern: wire.PathCheckin, Op: "agentCheckin", Tag: "agent", Auth: AuthAgent, NoAudit: true,
			Summary: "Heartbeat with the agent's health; answers the check-in interval and policy version",
			Request: wire.CheckinRequest{}, Response: wire.CheckinResponse{}, MaxBody: 64 << 10, Handler: a.checkin},
		{Method: http.MethodGet, Pattern: wire.PathPolicy, Op: "agentPolicy", Tag: "agent", Auth: AuthAgent,
			Summary: "The current signed policy bundle", Response: wire.Bundle{}, Handler: a.agentPolicy},
	}
}

func (a *API) directives(r *http.Request) wire.Directives {
	return wire.Directives{CheckinIntervalSeconds: int(a.d.CheckinInterval.Seconds()), PolicyVersion: a.d.Policy.Version(r.Context()),
		Upgrade: a.upgradeOffer(r)}
}

const maxFact = 256

func (a *API) enroll(w http.ResponseWriter, r *http.Request) {
	var req wire.EnrollRequest
	if werr := decodeJSON(w, r, &req, 64<<10, 1<<20, false); werr != nil {
		writeError(w, werr)
		return
	}
	secret, err := a.d.Auth.EnrollSecret(r.Context(), req.EnrollSecret)
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	h := req.Host
	for field, v := range map[string]string{"host.machine_id": h.MachineID, "host.hostname": h.Hostname} {
		if strings.TrimSpace(v) == "" {
			writeError(w, &wire.Error{Code: wire.CodeBadRequest, Message: "empty", Field: field})
			return
		}
	}
	for field, v := range map[string]string{"host.machine_id": h.MachineID, "host.hostname": h.Hostname, "host.os": h.OS,
		"host.os_version": h.OSVersion, "host.arch": h.Arch, "host.agent_version": h.AgentVersion} {
		if len(v) > maxFact {
			writeError(w, &wire.Error{Code: wire.CodeBadRequest, Message: "longer than 256 bytes", Field: field})
			return
		}
	}
	token, hash := auth.NewToken(auth.PrefixAgent)
	host, created, err := a.d.Store.Enroll(r.Context(), store.Enrollment{MachineID: h.MachineID, Hostname: h.Hostname, OS: h.OS,
		OSVersion: h.OSVersion, Arch: h.Arch, AgentVersion: h.AgentVersion, TokenHash: hash, EnrollSecretID: secret.ID,
		EgressIP: a.clientIP(r).String(), Time: a.d.Now().UTC()})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.d.Auth.ForgetAgent(host.ID) // the old token, if any, is dead
	AuditActor(r, "enroll-secret:"+secret.Name)
	Audit(r, host.ID, map[string]any{"hostname": host.Hostname, "machine_id": host.MachineID, "new_host": created})
	a.log.Info("agent enrolled", "host", host.ID, "hostname", host.Hostname, "new", created, "secret", secret.Name)
	writeJSON(w, http.StatusOK, wire.EnrollResponse{AgentID: host.ID, Token: token,
		PolicyKey: wire.EncodeKey(a.d.Policy.PublicKey()), Directives: a.directives(r)})
}

func (a *API) batch(w http.ResponseWriter, r *http.Request) {
	var b ingest.BatchBody
	if werr := decodeJSON(w, r, &b, wire.MaxBodyBytes, wire.MaxDecodedBytes, false); werr != nil {
		writeError(w, werr)
		return
	}
	res, err := a.d.Ingest.Batch(r.Context(), agentOf(r), &b)
	if err != nil {
		var we *wire.Error
		if !errors.As(err, &we) && r.Context().Err() == nil {
			// The store failed: the agent keeps the batch and retries.
			a.log.Error("batch not stored", "host", agentOf(r).HostID, "error", err)
			writeError(w, &wire.Error{Code: wire.CodeUnavailable, Message: "the batch was not stored; retry later"})
			return
		}
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.BatchResponse{Accepted: res.Accepted, Duplicates: res.Duplicates, Directives: a.directives(r)})
}

func (a *API) checkin(w http.ResponseWriter, r *http.Request) {
	var req wire.CheckinRequest
	if werr := decodeJSON(w, r, &req, 64<<10, 1<<20, false); werr != nil {
		writeError(w, werr)
		return
	}
	a.d.Ingest.Checkin(agentOf(r), &req)
	writeJSON(w, http.StatusOK, wire.CheckinResponse{Directives: a.directives(r)})
}

func (a *API) agentPolicy(w http.ResponseWriter, r *http.Request) {
	cur, err := a.d.Policy.Current(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, cur.Bundle)
}
