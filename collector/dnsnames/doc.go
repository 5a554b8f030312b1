// Package dnsnames learns which host name each IP address was looked up under, from the DNS
// answers this host receives, so network_connection events can carry DestinationHostname.
//
// On Linux a packet socket with a BPF filter receives only DNS responses (UDP and TCP source
// port 53, IPv4 and IPv6, including the 127.0.0.53 stub's answers on loopback); each is parsed
// with golang.org/x/net/dns/dnsmessage and its A and AAAA records go into a Cache bounded in
// size whose entries live for the record's TTL plus a grace period. Only names and addresses are
// kept, in memory; nothing else of the traffic is read. Other platforms are not covered yet:
// Capture returns ErrUnsupported there and connections carry no host name.
package dnsnames
