//go:build !linux

package dnsnames

import (
	"context"
	"fmt"
	"runtime"

	"github.com/hashicorp/go-hclog"
)

// Capture is not implemented on this platform: macOS (a /dev/bpf reader) and Windows (the
// DNS-Client ETW provider) are not covered yet, so connections there carry no host name.
func (c *Cache) Capture(ctx context.Context, log hclog.Logger) error {
	return fmt.Errorf("%s: %w", runtime.GOOS, ErrUnsupported)
}
