//go:build !linux

package host

// interfacesFromNet lists interfaces through Go's net package (macOS and other systems).
func interfacesFromNet() []Interface {
	inv := &Inventory{}
	fillAddrsLive(inv)
	return inv.Interfaces
}
