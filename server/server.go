// Package server is the Vigil server (the mission's central collector) wired together: the store,
// the agent and admin API, the ingest, the policy service, the fleet rules and the background jobs,
// behind one HTTP(S) listener. `vigil server` runs it, and so can a test or `vigil demo` in
// process:
//
//	srv, err := server.New(ctx, server.Config{Listen: "127.0.0.1:0", DataDir: dir})
//	go srv.Run(ctx)
//	url, pin := srv.URL(), srv.CAFingerprint()
//
// First start creates the data directory (0700), a CA and server certificate, the ed25519
// policy-signing key, an enroll secret and an admin account; FirstStart reports them once.
package server

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigilhq/vigil/internal/event"
	"github.com/vigilhq/vigil/internal/wire"
	"github.com/vigilhq/vigil/server/api"
	"github.com/vigilhq/vigil/server/auth"
	"github.com/vigilhq/vigil/server/fleet"
	"github.com/vigilhq/vigil/server/ingest"
	"github.com/vigilhq/vigil/server/pki"
	"github.com/vigilhq/vigil/server/policy"
	"github.com/vigilhq/vigil/server/store"
	"github.com/vigilhq/vigil/server/store/sqlstore"
	"github.com/vigilhq/vigil/server/updates"
)

// Files in the data directory.
const (
	DBFile               = "vigil.db"
	TLSDir               = "tls"
	PolicyKeyFile        = "policy-signing.key"
	EnrollSecretFile     = "enroll-secret"
	AdminPasswordFile    = "initial-admin-password"
	DefaultListen        = ":8443"
	DefaultAdminUsername = "admin"
)

// Config configures a Server. Zero values take the defaults noted.
type Config struct {
	// Listen is the address to listen on (default :8443).
	Listen string
	// DataDir holds the database (SQLite), TLS material and keys (required).
	DataDir string
	// DB is a PostgreSQL URL (postgres://...); empty means SQLite under DataDir.
	DB string
	// TLSCert and TLSKey name a certificate and key to serve instead of the generated ones.
	TLSCert, TLSKey string
	// InsecureHTTP serves plain HTTP; refused unless Listen is a loopback address.
	InsecureHTTP bool
	// Hostnames are extra names and addresses the generated certificate covers.
	Hostnames []string
	// PublicURL is the URL agents use, printed on first start (default from Listen).
	PublicURL string
	// EnrollSecret sets an enroll secret (VIGIL_ENROLL_SECRET); otherwise one is generated on
	// first start and kept in DataDir/enroll-secret.
	EnrollSecret string
	// AdminToken sets an admin API token (VIGIL_ADMIN_TOKEN).
	AdminToken string
	// AdminPassword sets the first admin account's password (default: generated).
	AdminPassword string
	// CheckinInterval is told to agents (default 60 s); 3 missed intervals is offline.
	CheckinInterval time.Duration
	// TrustedProxies are CIDRs whose X-Forwarded-For is believed.
	TrustedProxies []string
	// OfficeCIDRs and OfficeGatewayMACs declare office networks the fleet rules leave out.
	OfficeCIDRs, OfficeGatewayMACs []string
	// FleetInterval is how often the fleet rules run (default 1 min).
	FleetInterval time.Duration
	// Retention keeps rows of each table this many days (store.RetentionTables; 0 = forever).
	// Defaults: events 30, findings 365, audit 365, fleet_facts 30.
	Retention map[string]int
	// AgentRate and AgentBurst limit each agent's requests per second (default 10, 40).
	AgentRate  float64
	AgentBurst int
	// FlushInterval is how often coalesced check-ins are written (default 2 s).
	FlushInterval time.Duration
	// OIDC configures single sign-on for the web UI (empty: local accounts only).
	OIDC OIDCConfig
	// Logger receives the server's logs (default: a null logger).
	Logger hclog.Logger
	// UpdatesDir is a release repository folder (made by `vigil release`) served to agents,
	// with the upgrade offer kept beside it (server/updates); empty: none.
	UpdatesDir string
}

// DefaultRetention is the retention of each table, in days.
var DefaultRetention = map[string]int{store.TableEvents: 30, store.TableFindings: 365, store.TableAudit: 365, store.TableFleetFacts: 30}

// FirstStart is what a first start created, to be shown once.
type FirstStart struct {
	URL           string
	CAFingerprint string
	EnrollSecret  string
	AdminUser     string
	AdminPassword string
	// AgentCommand is the line an admin pastes on a laptop.
	AgentCommand string
	// EnrollSecretFile and AdminPasswordFile are the files that keep the generated secret and
	// password ("" when the configuration gave them).
	EnrollSecretFile, AdminPasswordFile string
}

// Server is a running Vigil server.
type Server struct {
	cfg      Config
	log      hclog.Logger
	st       store.Store
	api      *api.API
	ingest   *ingest.Service
	policy   *policy.Service
	fleet    *fleet.Evaluator
	auth     *auth.Authenticator
	ln       net.Listener
	tls      bool
	url      string
	pin      string
	caPEM    []byte
	secret   string
	first    *FirstStart
	http     *http.Server
	wb       workbench
	runOnce  sync.Once
	closeErr error
}

// New prepares a server: data directory, store and migrations, keys, TLS, first-start accounts,
// and a bound listener (so Addr and URL work before Run).
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("server: a data directory is required (--data)")
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.CheckinInterval <= 0 {
		cfg.CheckinInterval = wire.DefaultCheckinInterval
	}
	if cfg.CheckinInterval < wire.MinCheckinInterval || cfg.CheckinInterval > wire.MaxCheckinInterval {
		return nil, fmt.Errorf("server: check-in interval %s: want %s to %s", cfg.CheckinInterval, wire.MinCheckinInterval, wire.MaxCheckinInterval)
	}
	if cfg.FleetInterval <= 0 {
		cfg.FleetInterval = time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return nil, errors.New("server: --tls-cert and --tls-key go together")
	}
	host, _, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("server: listen address %q: %w", cfg.Listen, err)
	}
	if cfg.InsecureHTTP && !IsLoopback(host) {
		return nil, fmt.Errorf("server: --insecure-http serves plain HTTP and is allowed only on a loopback address, not %q", cfg.Listen)
	}
	proxies, err := parsePrefixes(cfg.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("server: trusted proxies: %w", err)
	}
	offices, err := parsePrefixes(cfg.OfficeCIDRs)
	if err != nil {
		return nil, fmt.Errorf("server: office networks: %w", err)
	}
	s := &Server{cfg: cfg, log: cfg.Logger.Named("server")}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("server: data directory: %w", err)
	}
	if err := os.Chmod(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("server: data directory: %w", err)
	}
	dsn := cfg.DB
	if dsn == "" {
		dsn = filepath.Join(cfg.DataDir, DBFile)
	}
	st, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("server: store: %w", err)
	}
	s.st = st
	ok := false
	defer func() {
		if !ok {
			_ = st.Close()
			if s.ln != nil {
				_ = s.ln.Close()
			}
		}
	}()
	key, err := loadOrCreateKey(filepath.Join(cfg.DataDir, PolicyKeyFile))
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.policy, err = policy.New(policy.Config{Store: st, Key: key, Logger: cfg.Logger.Named("policy")})
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.auth = auth.NewAuthenticator(st)
	if err := s.initWorkbench(ctx); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.ingest = ingest.New(ingest.Config{Store: st, Logger: cfg.Logger.Named("ingest"), FlushInterval: cfg.FlushInterval, Hook: s.batchHook})
	s.fleet, err = fleet.New(fleet.Config{Store: st, Logger: cfg.Logger.Named("fleet"), OfficeCIDRs: offices, OfficeGatewayMACs: cfg.OfficeGatewayMACs,
		OnNew: s.fleetFinding})
	if err != nil {
		return nil, fmt.Errorf("server: fleet rules: %w", err)
	}
	if err := s.listen(host); err != nil {
		return nil, err
	}
	if err := s.checkShared(ctx, key); err != nil {
		return nil, err
	}
	if err := s.bootstrap(ctx); err != nil {
		return nil, fmt.Errorf("server: first start: %w", err)
	}
	var ups *updates.Service
	if cfg.UpdatesDir != "" {
		if ups, err = updates.New(cfg.UpdatesDir); err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
	}
	s.api = api.New(api.Deps{Store: st, Auth: s.auth, Ingest: s.ingest, Policy: s.policy, Triage: s.wb.triage, Workbench: s.wb.wb, Logger: cfg.Logger,
		CheckinInterval: cfg.CheckinInterval, TrustedProxies: proxies, AgentRate: cfg.AgentRate, AgentBurst: cfg.AgentBurst,
		Updates: ups})
	if err := s.initUI(ctx); err != nil {
		return nil, fmt.Errorf("server: web UI: %w", err)
	}
	ok = true
	return s, nil
}

// checkShared makes sure replicas on one database share the policy-signing key and the CA:
// agents verify bundles with the key they got at enrollment and pin the CA.
func (s *Server) checkShared(ctx context.Context, key ed25519.PrivateKey) error {
	pub := wire.EncodeKey(key.Public().(ed25519.PublicKey))
	got, err := s.st.InitSetting(ctx, "policy_public_key", pub)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	if got != pub {
		return fmt.Errorf("server: the policy-signing key in %s is not the one this database was first used with: "+
			"copy policy-signing.key (and tls/) from the first server's data directory", s.cfg.DataDir)
	}
	if s.pin == "" || s.cfg.TLSCert != "" {
		return nil
	}
	got, err = s.st.InitSetting(ctx, "ca_fingerprint", s.pin)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	if got != s.pin {
		return fmt.Errorf("server: the CA in %s (%s) is not the one this database's agents pin (%s): copy tls/ from the first server's data directory",
			filepath.Join(s.cfg.DataDir, TLSDir), s.pin, got)
	}
	return nil
}

// IsLoopback reports whether host (of a listen address) is a loopback name or address: the only
// hosts plain HTTP is served on.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func parsePrefixes(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("%q: %w", s, err)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", s, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// listen binds the listener and prepares TLS.
func (s *Server) listen(host string) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("server: listen: %w", err)
	}
	s.ln = ln
	addr := ln.Addr().(*net.TCPAddr)
	urlHost := host
	if urlHost == "" || urlHost == "0.0.0.0" || urlHost == "::" {
		if h, err := os.Hostname(); err == nil && h != "" {
			urlHost = h
		} else {
			urlHost = "localhost"
		}
	}
	scheme := "https"
	if s.cfg.InsecureHTTP {
		scheme = "http"
	}
	s.url = fmt.Sprintf("%s://%s", scheme, net.JoinHostPort(urlHost, fmt.Sprint(addr.Port)))
	if s.cfg.PublicURL != "" {
		s.url = strings.TrimRight(s.cfg.PublicURL, "/")
	}
	if s.cfg.InsecureHTTP {
		return nil
	}
	s.tls = true
	var cert tls.Certificate
	if s.cfg.TLSCert != "" {
		cert, err = tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("server: TLS certificate: %w", err)
		}
		// Pin the top of the chain given.
		last := cert.Certificate[len(cert.Certificate)-1]
		s.pin = pki.Fingerprint(last)
		s.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: last})
	} else {
		dir := filepath.Join(s.cfg.DataDir, TLSDir)
		ca, _, err := pki.LoadOrCreateCA(dir)
		if err != nil {
			return fmt.Errorf("server: %w", err)
		}
		names := []string{"localhost", "127.0.0.1", "::1"}
		if urlHost != "" {
			names = append(names, urlHost)
		}
		if h, err := os.Hostname(); err == nil && h != "" {
			names = append(names, h)
		}
		names = append(names, s.cfg.Hostnames...)
		cert, err = ca.ServerCertificate(dir, dedupe(names))
		if err != nil {
			return fmt.Errorf("server: %w", err)
		}
		s.pin, s.caPEM = ca.Fingerprint(), ca.CertPEM
	}
	s.ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	return nil
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func loadOrCreateKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		blk, _ := pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("policy-signing key %s: not PEM", path)
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("policy-signing key %s: %w", path, err)
		}
		ek, ok := k.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("policy-signing key %s: not an ed25519 key", path)
		}
		return ek, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("policy-signing key: %w", err)
	}
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("policy-signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("policy-signing key: %w", err)
	}
	if err := pki.WriteSecret(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
		return nil, fmt.Errorf("policy-signing key: %w", err)
	}
	return k, nil
}

// bootstrap creates the admin account and enroll secret of a first start, and applies the
// configured secret and token.
func (s *Server) bootstrap(ctx context.Context) error {
	now := time.Now().UTC()
	first := &FirstStart{}
	isFirst := false
	// The admin account.
	admin, err := s.st.UserByName(ctx, DefaultAdminUsername)
	if errors.Is(err, store.ErrNotFound) {
		users, err := s.st.ListUsers(ctx)
		if err != nil {
			return err
		}
		if len(users) == 0 {
			pw := s.cfg.AdminPassword
			if pw == "" {
				pw = auth.NewPassword()
			}
			h, err := auth.HashPassword(pw)
			if err != nil {
				return err
			}
			admin = store.User{ID: event.NewID(), Username: DefaultAdminUsername, PasswordHash: h, Role: string(auth.RoleAdmin), CreatedAt: now}
			err = s.st.CreateUser(ctx, admin)
			switch {
			case errors.Is(err, store.ErrConflict): // another replica was first
				if admin, err = s.st.UserByName(ctx, DefaultAdminUsername); err != nil {
					return err
				}
			case err != nil:
				return err
			default:
				isFirst = true
				first.AdminUser, first.AdminPassword = DefaultAdminUsername, pw
				if s.cfg.AdminPassword == "" {
					first.AdminPasswordFile = filepath.Join(s.cfg.DataDir, AdminPasswordFile)
					if err := pki.WriteSecret(first.AdminPasswordFile, []byte(pw+"\n")); err != nil {
						return err
					}
				}
			}
		}
	} else if err != nil {
		return err
	}
	// The admin token from the environment.
	if s.cfg.AdminToken != "" {
		if admin.ID == "" {
			return errors.New("an admin token was given but there is no admin account")
		}
		err := s.st.CreateAPIToken(ctx, store.APIToken{ID: event.NewID(), UserID: admin.ID, Name: "VIGIL_ADMIN_TOKEN", Hash: auth.HashToken(s.cfg.AdminToken), CreatedAt: now})
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	// The enroll secret: configured, or kept in the data directory, or new.
	secretPath := filepath.Join(s.cfg.DataDir, EnrollSecretFile)
	secret := s.cfg.EnrollSecret
	if secret == "" {
		first.EnrollSecretFile = secretPath
		if b, err := os.ReadFile(secretPath); err == nil {
			secret = strings.TrimSpace(string(b))
		} else if errors.Is(err, os.ErrNotExist) {
			secret, _ = auth.NewToken(auth.PrefixEnroll)
			if err := pki.WriteSecret(secretPath, []byte(secret+"\n")); err != nil {
				return err
			}
			isFirst = true
		} else {
			return fmt.Errorf("enroll secret: %w", err)
		}
	}
	s.secret = secret
	hash := auth.HashToken(secret)
	if _, err := s.st.EnrollSecretByHash(ctx, hash); errors.Is(err, store.ErrNotFound) {
		err := s.st.CreateEnrollSecret(ctx, store.EnrollSecret{ID: event.NewID(), Name: "default", Hash: hash, CreatedAt: now, CreatedBy: "server"})
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return err
		}
	} else if err != nil {
		return err
	}
	if isFirst {
		first.URL, first.CAFingerprint, first.EnrollSecret = s.url, s.pin, secret
		first.AgentCommand = s.AgentCommand()
		s.first = first
	}
	return nil
}

// AgentCommand is the `vigil agent run` line that enrolls a laptop with this server.
func (s *Server) AgentCommand() string {
	cmd := fmt.Sprintf("vigil agent run --server %s --enroll-secret %s", s.url, s.secret)
	if s.tls {
		cmd += " --ca-pin " + s.pin
	}
	return cmd
}

// Addr is the address the server listens on (host:port).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the server's URL for agents and admins.
func (s *Server) URL() string { return s.url }

// LocalURL is a URL for this machine: the listen address with a loopback host.
func (s *Server) LocalURL() string {
	_, port, _ := net.SplitHostPort(s.Addr())
	scheme := "https"
	if !s.tls {
		scheme = "http"
	}
	return scheme + "://" + net.JoinHostPort("127.0.0.1", port)
}

// CAFingerprint is the pin of the server's CA ("sha256:HEX"; "" without TLS).
func (s *Server) CAFingerprint() string { return s.pin }

// CACertPEM is the CA certificate agents trust (nil without TLS).
func (s *Server) CACertPEM() []byte { return s.caPEM }

// EnrollSecret is the enroll secret of this server's configuration or data directory.
func (s *Server) EnrollSecret() string { return s.secret }

// FirstStart reports what the first start created, or nil when this was not the first start.
func (s *Server) FirstStart() *FirstStart { return s.first }

// API is the HTTP interface, to add routes to before Run.
func (s *Server) API() *api.API { return s.api }

// Store is the server's store.
func (s *Server) Store() store.Store { return s.st }

// Policy is the policy service.
func (s *Server) Policy() *policy.Service { return s.policy }

// Fleet is the fleet-rule evaluator.
func (s *Server) Fleet() *fleet.Evaluator { return s.fleet }

// Ingest is the ingest service.
func (s *Server) Ingest() *ingest.Service { return s.ingest }

// PrintFirstStart writes the first-start banner (nothing when this was not the first start).
func (s *Server) PrintFirstStart(w io.Writer) {
	f := s.first
	if f == nil {
		return
	}
	fmt.Fprintf(w, "Vigil server: first start. Keep what follows; the password is not shown again.\n\n")
	fmt.Fprintf(w, "  URL:             %s\n", f.URL)
	if f.CAFingerprint != "" {
		fmt.Fprintf(w, "  CA fingerprint:  %s\n", f.CAFingerprint)
	}
	if f.AdminUser != "" {
		fmt.Fprintf(w, "  Admin user:      %s\n", f.AdminUser)
		fmt.Fprintf(w, "  Admin password:  %s\n", f.AdminPassword)
	}
	fmt.Fprintf(w, "\nOn each laptop, run (or install the service with the same flags):\n\n  %s\n\n", f.AgentCommand)
	if f.EnrollSecretFile != "" {
		fmt.Fprintf(w, "The enroll secret is kept in %s (mode 0600).\n", f.EnrollSecretFile)
	}
	if f.AdminPasswordFile != "" {
		fmt.Fprintf(w, "The admin password is also kept in %s (mode 0600).\n", f.AdminPasswordFile)
	}
}

// Run serves until ctx ends, then shuts down gracefully: it stops accepting, lets in-flight
// requests (batches) finish for up to 30 s, flushes check-ins, stops the jobs and closes the store.
func (s *Server) Run(ctx context.Context) error {
	err := errors.New("server: Run called twice")
	s.runOnce.Do(func() { err = s.run(ctx) })
	return err
}

func (s *Server) run(ctx context.Context) error {
	jobsCtx, stopJobs := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.ingest.Run(jobsCtx) }()
	wg.Add(1)
	go func() { defer wg.Done(); s.runJobs(jobsCtx) }()
	s.wb.forward.Start(jobsCtx)
	s.http = &http.Server{
		Handler:           s.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          s.log.StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Debug}),
	}
	s.log.Info("serving", "url", s.url, "addr", s.Addr(), "tls", s.tls, "store", s.st.Dialect())
	served := make(chan error, 1)
	go func() { served <- s.http.Serve(s.ln) }()
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served:
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.http.Shutdown(shutCtx); err != nil {
		s.log.Warn("shutdown: requests still running were cut", "error", err)
	}
	stopJobs()
	wg.Wait()
	s.wb.forward.Wait()
	if err := s.st.Close(); err != nil {
		s.log.Error("closing the store failed", "error", err)
	}
	s.log.Info("stopped")
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("server: %w", serveErr)
	}
	return nil
}

// Close releases a server that was never Run.
func (s *Server) Close() error {
	s.runOnce.Do(func() {
		s.closeErr = errors.Join(s.ln.Close(), s.st.Close())
	})
	return s.closeErr
}
