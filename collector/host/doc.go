// Package host reports the endpoint's settings as host_inventory events (host name, OS, time
// zone, locale, keyboard layouts and input methods, network interfaces, default gateway, Wi-Fi,
// VPN interfaces, virtualization, logged-in and remote sessions) at start and whenever they
// change, and the ARP/NDP neighbour table as neighbor events when entries are first seen. Every
// OS path is under a configurable root and every command's output has a plain parser, so fixture
// trees and captured outputs are read the same way as the live system.
package host
