// Package netconn is the network collector: it lists the host's TCP and UDP sockets with their
// owning processes (on Linux from /proc/net, elsewhere through gopsutil) on an interval and reports each connection and listening socket
// once, when it first appears, as a network_connection event (docs/events.md), in Sysmon's
// convention: Source is the side that opened the connection, Destination the accepting side, and
// a listening socket's local address is its Destination.
package netconn
