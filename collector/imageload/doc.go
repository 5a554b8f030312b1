// Package imageload reports the shared objects each executable maps as image_load events
// (Sigma's taxonomy: Image, ImageLoaded, Hashes), so a remote-desktop server is known by the
// libraries it runs on (libvncserver, FreeRDP's shadow and server libraries, xrdp's own) however
// its executable is named, copied, linked, run through the dynamic loader, from a memfd or after
// deletion.
//
// On Linux it reads /proc/<pid>/maps shortly after a process starts (the dynamic loader has
// mapped the libraries by then) and reports each library once per executable: a binary already
// seen (same device, inode, size and modification time) costs a stat and a map lookup. A process
// run through the dynamic loader (ld-linux) or from a memfd is always read, since its executable
// says nothing of what it runs. On Windows it lists each new process's modules
// (EnumProcessModulesEx) once per executable, with each module's Authenticode signer
// (Signature). macOS is not covered: the source reports nothing there.
package imageload
