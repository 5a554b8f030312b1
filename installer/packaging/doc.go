// Package packaging builds Vigil's release artifacts from built binaries, in two kinds:
// vigil-agent carries the agent-only build (what a laptop needs: about half the size, a smaller
// resident set) and installs the agent's service; vigil-server carries the full build (server,
// web UI, agent, release tools) and installs the server's service. For Linux, .deb, .rpm and
// .apk packages through nfpm (used as a library), with the binary as /usr/bin/vigil, the agent's
// default configuration, and maintainer scripts that register, start, stop and remove the
// service; a Windows zip whose vigil.exe is Authenticode-signed beforehand with osslsigncode
// (Signer) when a certificate is given; a macOS tarball; and a SHA-256 checksums file. File
// names say the kind, the OS and the architecture: KIND_VERSION_OS_ARCH.EXT. The dist program
// (installer/dist, `make dist`) drives it.
package packaging
