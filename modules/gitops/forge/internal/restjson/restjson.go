// Package restjson is the request half the REST forge clients share: a
// JSON body out, the status and a bounded body back. Each client keeps its
// own authentication headers and its reading of error answers.
package restjson

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// maxBody bounds what is read of an answer.
const maxBody = 8 << 20

// Call sends method to u with in as its JSON body (nil: none) and header
// (Content-Type is set when there is a body), and returns the answer's
// status and up to 8 MiB of its body. Errors name the method and path.
func Call(ctx context.Context, c *http.Client, method string, u *url.URL, header http.Header, in any) (int, []byte, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return 0, nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, u.Path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: reading response: %w", method, u.Path, err)
	}
	return resp.StatusCode, raw, nil
}

// Decode unmarshals a successful answer's body into out; nothing to do
// when out is nil or the body is empty.
func Decode(method string, u *url.URL, raw []byte, out any) error {
	if out == nil || len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: decoding response: %w", method, u.Path, err)
	}
	return nil
}
