// Package imageload reports the shared objects each executable maps as image_load events
// (Sigma's taxonomy: Image, ImageLoaded, Hashes), so a remote-desktop server is known by the
// libraries it runs on (libvncserver, FreeRDP's shadow and server libraries, xrdp's own) however
// its executable is named, copied, linked, run through the dynamic loader, from a memfd or after
// deletion.
//
// On Linux it reads /proc/<pid>/maps shortly after a process starts and reports each library
// once per executable. A read that finds the dynamic loader still at work (ld-linux mapped, libc
// not yet: on a loaded machine the loader may not have run within the delay) is done again a
// delay later, up to five times, so a busy machine never caches half a library list. A binary already
// seen (same device, inode, size and modification time) costs a stat and a map lookup. A process
// run through the dynamic loader (ld-linux) or from a memfd is always read, since its executable
// says nothing of what it runs. On Windows it lists each new process's modules
// (EnumProcessModulesEx) once per executable, with each module's Authenticode signer
// (Signature). macOS is not covered: the source reports nothing there.
package imageload
