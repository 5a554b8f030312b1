//go:build !agentonly

package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/vigilhq/vigil/agent"
	"github.com/vigilhq/vigil/server"
)

func init() { subcommands = append(subcommands, newDemoCmd) }

type demoFlags struct {
	data, listen, logLevel string
	rules, only, fileRoots []string
}

func newDemoCmd() *cobra.Command {
	var f demoFlags
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "A server and an agent watching this machine, in one process, for a first look",
		Long: `Starts a Vigil server on a loopback address (plain http, the embedded SQLite store under
--data) and an agent enrolled to it in the same process, watching this machine with the built-in
rules (run as root for the full picture). It prints the server's URL and the admin login; Ctrl-C
stops both cleanly. Running it again with the same --data keeps the hosts, findings and login.

Nothing leaves this machine: the server listens on loopback only.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runDemo(ctx, cmd, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.data, "data", "vigil-demo", "folder for the server's store and the agent's state")
	fl.StringVar(&f.listen, "listen", "127.0.0.1:8080", "loopback address the server listens on (port 0: any free port)")
	fl.StringArrayVar(&f.rules, "rules", nil, "extra local rule file or folder for the agent (repeatable)")
	fl.StringSliceVar(&f.only, "only", nil, "run only these collectors (host, process, imageload, netconn, usb, display, media, files)")
	fl.StringArrayVar(&f.fileRoots, "files-root", nil, "folder the file collector watches (repeatable; default: homes and temp folders)")
	fl.StringVar(&f.logLevel, "log-level", "warn", "log level on standard error (trace, debug, info, warn, error)")
	return cmd
}

func runDemo(ctx context.Context, cmd *cobra.Command, f *demoFlags) error {
	level := hclog.LevelFromString(f.logLevel)
	if level == hclog.NoLevel {
		return fmt.Errorf("--log-level %q: want trace, debug, info, warn or error", f.logLevel)
	}
	if host, _, err := net.SplitHostPort(f.listen); err != nil || !server.IsLoopback(host) {
		return fmt.Errorf("--listen %q: the demo serves plain HTTP, so only on a loopback address (127.0.0.1:PORT, [::1]:PORT, localhost:PORT)", f.listen)
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "vigil-demo", Level: level, Output: cmd.ErrOrStderr()})
	data, err := filepath.Abs(f.data)
	if err != nil {
		return err
	}
	serverDir := filepath.Join(data, "server")
	if err := os.MkdirAll(serverDir, 0o700); err != nil {
		return fmt.Errorf("demo data folder: %w", err)
	}
	srv, err := server.New(ctx, server.Config{
		Listen: f.listen, DataDir: serverDir, InsecureHTTP: true,
		CheckinInterval: 10 * time.Second, Logger: log.Named("server"),
	})
	if err != nil {
		return err
	}
	url := srv.LocalURL()
	password := ""
	if fs := srv.FirstStart(); fs != nil {
		password = fs.AdminPassword
	} else if b, err := os.ReadFile(filepath.Join(serverDir, server.AdminPasswordFile)); err == nil {
		password = strings.TrimSpace(string(b))
	}
	if password == "" {
		password = "(set on an earlier start; see " + filepath.Join(serverDir, server.AdminPasswordFile) + ")"
	}

	var wg sync.WaitGroup
	srvCtx, stopServer := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServer()
	srvErr := make(chan error, 1)
	wg.Add(1)
	go func() { defer wg.Done(); srvErr <- srv.Run(srvCtx) }()

	ready := make(chan struct{})
	agentErr := make(chan error, 1)
	go func() {
		agentErr <- agent.Run(ctx, agent.Config{
			ServerURL: url, EnrollSecret: srv.EnrollSecret(), StateDir: filepath.Join(data, "agent"),
			Rules: f.rules, Only: f.only, FileRoots: f.fileRoots, LogLevel: f.logLevel,
			Logger: log.Named("agent"), DisableLimits: true, Ready: func() { close(ready) },
		})
	}()
	select {
	case err := <-agentErr: // failed to start, or stopped before it was ready
		stopServer()
		wg.Wait()
		if err != nil {
			return fmt.Errorf("agent: %w", err)
		}
		return nil
	case err := <-srvErr:
		return fmt.Errorf("server: %w", err)
	case <-ready:
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "Vigil demo: a server and an agent watching this machine.\n\n")
	fmt.Fprintf(out, "  URL:       %s   (the web UI)\n", url)
	fmt.Fprintf(out, "  Login:     %s / %s\n", server.DefaultAdminUsername, password)
	fmt.Fprintf(out, "  API:       %s/api/v1/openapi.json (a token: POST /api/v1/auth/login)\n", url)
	fmt.Fprintf(out, "  Data:      %s\n\n", data)
	fmt.Fprintf(out, "Press Ctrl-C to stop.\n")

	var runErr error
	select {
	case err := <-agentErr: // ctx ended (Ctrl-C), or the agent failed
		runErr = err
	case err := <-srvErr:
		<-agentErr
		runErr = err
	}
	stopServer()
	wg.Wait()
	select {
	case err := <-srvErr:
		runErr = errors.Join(runErr, err)
	default:
	}
	if runErr == nil {
		fmt.Fprintln(out, "Vigil demo stopped.")
	}
	return runErr
}
