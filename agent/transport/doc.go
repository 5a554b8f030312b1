// Package transport is the agent's HTTP client of the Vigil server's agent API
// (internal/wire): enrollment, batches (gzip-compressed), check-ins and policy bundles, over TLS
// pinned to the server's own CA (a SHA-256 fingerprint pin through internal/tlspin, or a CA
// file). Plain http is accepted only for a server on a loopback address. Errors say whether a retry can help
// (Retryable) and when the server refused the agent's token (IsUnauthorized); Backoff spaces
// the retries exponentially with jitter.
package transport
