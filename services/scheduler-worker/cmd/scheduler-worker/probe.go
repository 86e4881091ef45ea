package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// probe is the `scheduler-worker probe URL` subcommand: a healthcheck for
// images without a shell or curl (Compose's healthcheck runs it). It exits 0
// when URL answers 200 within two seconds, 1 otherwise, and 2 on bad usage.
func probe(args []string, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: scheduler-worker probe http://127.0.0.1:9000/readyz")
		return 2
	}
	u, err := url.Parse(args[0])
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fmt.Fprintf(stderr, "probe: %q is not an http(s) URL\n", args[0])
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		fmt.Fprintf(stderr, "probe: building the request: %v\n", err)
		return 2
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "probe: %s: %v\n", u.Redacted(), err)
		return 1
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "probe: %s answered %d\n", u.Redacted(), resp.StatusCode)
		return 1
	}
	return 0
}
