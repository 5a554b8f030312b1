package api

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/vigilhq/vigil/internal/wire"
)

// errDecodedTooLarge: a gzip body decompressed past its cap.
var errDecodedTooLarge = errors.New("decompressed body too large")

// cappedReader fails with errDecodedTooLarge past n bytes.
type cappedReader struct {
	r io.Reader
	n int64
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		// Is there more? One byte says.
		var one [1]byte
		k, err := c.r.Read(one[:])
		if k > 0 {
			return 0, errDecodedTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > c.n {
		p = p[:c.n]
	}
	k, err := c.r.Read(p)
	c.n -= int64(k)
	return k, err
}

// body returns the request body, capped at maxBody as sent and, when gzip-encoded, at
// maxDecoded once decompressed.
func body(w http.ResponseWriter, r *http.Request, maxBody, maxDecoded int64) (io.Reader, func(), *wire.Error) {
	raw := http.MaxBytesReader(w, r.Body, maxBody)
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
		return raw, func() {}, nil
	case "gzip":
		zr, err := gzip.NewReader(raw)
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, nil, tooLarge(maxBody)
			}
			return nil, nil, &wire.Error{Code: wire.CodeBadRequest, Message: "body is not gzip: " + err.Error()}
		}
		return &cappedReader{r: zr, n: maxDecoded}, func() { _ = zr.Close() }, nil
	default:
		return nil, nil, &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("Content-Encoding %q: only gzip is accepted", enc)}
	}
}

func tooLarge(limit int64) *wire.Error {
	return &wire.Error{Code: wire.CodeTooLarge, Message: fmt.Sprintf("request body over the limit of %d bytes", limit)}
}

// decodeJSON decodes one JSON value from the request into v, mapping every failure to an
// envelope error: 413 past the caps, 400 naming the field otherwise. strict refuses unknown
// fields (admin API); the agent API accepts them, for newer agents.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any, maxBody, maxDecoded int64, strict bool) *wire.Error {
	rd, done, werr := body(w, r, maxBody, maxDecoded)
	if werr != nil {
		return werr
	}
	defer done()
	dec := json.NewDecoder(rd)
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return jsonError(err, maxBody, maxDecoded)
	}
	// Nothing but white space may follow.
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		if err == nil {
			return &wire.Error{Code: wire.CodeBadRequest, Message: "more than one JSON value in the body"}
		}
		return jsonError(err, maxBody, maxDecoded)
	}
	return nil
}

func jsonError(err error, maxBody, maxDecoded int64) *wire.Error {
	var mbe *http.MaxBytesError
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		return tooLarge(maxBody)
	case errors.Is(err, errDecodedTooLarge):
		return &wire.Error{Code: wire.CodeTooLarge, Message: fmt.Sprintf("decompressed body over the limit of %d bytes", maxDecoded)}
	case errors.Is(err, io.EOF):
		return &wire.Error{Code: wire.CodeBadRequest, Message: "empty body: want a JSON object"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &wire.Error{Code: wire.CodeBadRequest, Message: "body ends in the middle of a JSON value"}
	case errors.As(err, &se):
		return &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("invalid JSON at byte %d: %s", se.Offset, se.Error())}
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "(body)"
		}
		return &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("field %s: JSON %s is not a valid %s", field, te.Value, te.Type), Field: field}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &wire.Error{Code: wire.CodeBadRequest, Message: "unknown field " + name, Field: name}
	case errors.Is(err, gzipErr(err)):
		return &wire.Error{Code: wire.CodeBadRequest, Message: "corrupt gzip body: " + err.Error()}
	}
	return &wire.Error{Code: wire.CodeBadRequest, Message: "invalid JSON: " + err.Error()}
}

// gzipErr returns err when it comes from the gzip reader, else a sentinel that matches nothing.
func gzipErr(err error) error {
	if errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) {
		return err
	}
	return errNoMatch
}

var errNoMatch = errors.New("no match")

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		_ = json.NewEncoder(&buf).Encode(wire.ErrorBody{Error: wire.Error{Code: wire.CodeInternal, Message: "encoding the answer failed"}})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
