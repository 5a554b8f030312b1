// Package upgrade moves agents to a new Vigil version only when the release key says so.
//
// The release side (Repo, `vigil release`) keeps a TUF repository (The Update Framework,
// through github.com/theupdateframework/go-tuf/v2) on the admin's offline machine: the release
// key signs the root, targets, snapshot and timestamp metadata, and each published version adds
// one target per platform, vigil/VERSION/OS-ARCH/vigil. The admin copies the repository to the
// server, which only serves it and tells agents which version to take (a staged share of
// hosts); the server holds no key that can make an agent install anything.
//
// The agent side (Updater) trusts only the root metadata configured at install time. Offered a
// version, it refreshes the metadata through the TUF client (signatures, thresholds, versions,
// expiry, lengths and hashes are all checked), downloads its platform's target into its state
// directory, and records it as pending. Launch, at the agent's next start, runs the pending
// binary once on trial; the trial commits itself once it is healthy (it has talked to the
// server), and a trial that dies or stays unhealthy is rolled back: the version is marked bad and
// the agent carries on with the one it had. The state directory (token, queue) is shared by
// every version, so an upgrade keeps them.
package upgrade
