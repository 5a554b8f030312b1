//go:build !agentonly

package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigilhq/vigil/installer/upgrade"
)

func init() { subcommands = append(subcommands, newReleaseCmd) }

// releaseFlags are the flags every release command takes.
type releaseFlags struct {
	repo, key string
	expires   time.Duration
}

func (f *releaseFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.repo, "repo", "release-repo", "release repository folder")
	cmd.Flags().StringVar(&f.key, "key", "release.key", "the release key (ed25519, PEM); keep it offline")
	cmd.Flags().DurationVar(&f.expires, "expires", upgrade.DefaultExpiry, "how long the signed metadata stays valid")
}

func (f *releaseFlags) open() (*upgrade.Repo, error) {
	r := &upgrade.Repo{Dir: f.repo, Expiry: f.expires}
	key, err := upgrade.LoadKey(f.key)
	if err != nil {
		return nil, err
	}
	r.Key = key
	return r, nil
}

func newReleaseCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "release",
		Short: "Sign Vigil releases for agents' upgrades (on the admin's offline machine)",
		Long: `Keeps a release repository (The Update Framework: signed metadata and binaries) on the admin's
machine, with a release key that never leaves it. Agents installed with --release-root pointing at
the repository's metadata/root.json install an upgrade the server offers only when this key has
signed it. Copy the repository folder to the server's --updates-dir, then offer a version with
PUT /api/v1/upgrade (docs/install.md).`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newReleaseInitCmd(), newReleasePublishCmd(), newReleaseRefreshCmd())
	return cmd
}

func newReleaseInitCmd() *cobra.Command {
	var f releaseFlags
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create the release key (unless --key exists) and an empty release repository",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := os.Stat(f.key); errors.Is(err, os.ErrNotExist) {
				if _, err := upgrade.GenerateKey(f.key); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "new release key: %s (mode 0600; keep it offline, and a backup)\n", f.key)
			}
			r, err := f.open()
			if err != nil {
				return err
			}
			if err := r.Init(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "release repository: %s\nagents trust: %s (vigil agent install --release-root %s)\n", f.repo, r.RootPath(), r.RootPath())
			return nil
		},
	}
	f.add(cmd)
	return cmd
}

func newReleasePublishCmd() *cobra.Command {
	var (
		f        releaseFlags
		version  string
		binaries []string
	)
	cmd := &cobra.Command{
		Use:   "publish --version V --binary OS/ARCH=FILE...",
		Short: "Sign a version's binaries into the release repository",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bins := map[string]string{}
			for _, b := range binaries {
				platform, file, ok := strings.Cut(b, "=")
				if !ok {
					return fmt.Errorf("--binary %q: want OS/ARCH=FILE", b)
				}
				bins[platform] = file
			}
			r, err := f.open()
			if err != nil {
				return err
			}
			if err := r.Publish(version, bins); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "signed %s for %d platform(s) into %s\n", version, len(bins), f.repo)
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&version, "version", "", "the version, as the binaries report it (vigil version)")
	cmd.Flags().StringArrayVar(&binaries, "binary", nil, "OS/ARCH=FILE: a binary of the version (repeatable)")
	return cmd
}

func newReleaseRefreshCmd() *cobra.Command {
	var f releaseFlags
	cmd := &cobra.Command{
		Use:   "refresh",
		Short: "Sign the repository's metadata again with new expiry dates (before --expires runs out)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := f.open()
			if err != nil {
				return err
			}
			if err := r.Refresh(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "re-signed %s, valid for %s\n", f.repo, f.expires)
			return nil
		},
	}
	f.add(cmd)
	return cmd
}
