package dnsnames

import "errors"

// ErrUnsupported is returned by Capture where this platform has no DNS answer source yet.
var ErrUnsupported = errors.New("DNS answer capture is not supported on this platform")
