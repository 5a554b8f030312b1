// Package netconn is the network collector: it lists the host's TCP and UDP sockets with their
// owning processes (on Linux from /proc/net, elsewhere through gopsutil) on an interval and
// reports each connection and listening socket once, when it first appears, as a
// network_connection event (docs/events.md), in Sysmon's convention: Source is the side that
// opened the connection, Destination the accepting side, and a listening socket's local address
// is its Destination.
//
// Process starts make it look sooner: every socket is listed 1, 2 and 3 s after one, and on
// Linux the TCP listeners alone are looked at every 250 ms for 5 s after it, through the
// kernel's sock_diag interface asked for listening sockets only (it never walks the
// connections, so the look costs the same on a machine with tens of thousands of them), a new
// listener's owner being looked for first among the processes that just started. A new TCP
// listener is probed for a remote-desktop protocol (collector/rdprobe) at once, a few at a
// time, without holding up the listings: its event, and those of connections to it, are emitted
// when its probe is over, the other events at once.
package netconn
