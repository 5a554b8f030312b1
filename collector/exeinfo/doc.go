// Package exeinfo reads identity from an executable's own bytes, so a renamed, hard-linked,
// deleted or memfd copy is still known: the main package and module paths a Go toolchain
// embeds in every binary (debug/buildinfo), the signer named in a Windows executable's
// Authenticode signature, and a macOS executable's embedded code signature (identifier, Team ID,
// ad-hoc flag, signing certificate). Results are cached per file version (device, inode, size,
// modification time), so each binary is read once.
package exeinfo
