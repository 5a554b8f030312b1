// Package packaging builds Vigil's release artifacts from built binaries: .deb, .rpm and .apk
// packages through nfpm (used as a library), with the binary, a default agent configuration and
// maintainer scripts that register, start, stop and remove the agent's service; a Windows zip
// whose vigil.exe is Authenticode-signed with osslsigncode when a certificate is given; a macOS
// tarball; and a SHA-256 checksums file. File names say the OS and the architecture:
// vigil_VERSION_OS_ARCH.EXT. The dist program (installer/dist, `make dist`) drives it.
package packaging
