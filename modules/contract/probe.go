package contract

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// The checks Probe runs, in order.
const (
	CheckLivez   = "livez"
	CheckReadyz  = "readyz"
	CheckVersion = "version"
)

// VersionKeys are the keys, and the only keys, of a /version document.
var VersionKeys = []string{"buildTs", "imageDigest", "service", "sha"}

// VersionInfo is a service's /version document.
type VersionInfo struct {
	// SHA is the source commit the binary was built from.
	SHA string `json:"sha"`
	// Service is the service name.
	Service string `json:"service"`
	// BuildTS is the build time, RFC 3339.
	BuildTS string `json:"buildTs"`
	// ImageDigest is the digest of the image the service runs in (may be
	// empty outside an image).
	ImageDigest string `json:"imageDigest"`
}

// CheckResult is the outcome of one check.
type CheckResult struct {
	// Name is CheckLivez, CheckReadyz or CheckVersion.
	Name string
	// URL is the URL requested.
	URL string
	// Status is the HTTP status code, 0 when no response came.
	Status int
	// Err is nil when the check passed.
	Err error
}

// ProbeReport is what Probe found, check by check.
type ProbeReport struct {
	// BaseURL is the probed service's base URL.
	BaseURL string
	// Checks holds one result per check, in the order they ran.
	Checks []CheckResult
	// Starting is true when /readyz answered 503 and WithStartingAllowed
	// accepted it.
	Starting bool
	// Version is the decoded /version document when that check passed.
	Version *VersionInfo
}

// OK reports whether every check passed.
func (r *ProbeReport) OK() bool {
	for _, c := range r.Checks {
		if c.Err != nil {
			return false
		}
	}
	return true
}

// CheckError is one failed check. It is retryable when the service may
// simply not be up yet (no connection, timeout, 5xx) and terminal when the
// service answered but broke the contract (wrong status, wrong document).
type CheckError struct {
	// Check is the name of the failed check.
	Check string
	// URL is the URL requested.
	URL string
	// Retryable says whether probing again later may succeed.
	Retryable bool
	// Err is the cause.
	Err error
}

// Error renders "probing livez at URL: cause".
func (e *CheckError) Error() string {
	return fmt.Sprintf("probing %s at %s: %v", e.Check, e.URL, e.Err)
}

// Unwrap returns the cause.
func (e *CheckError) Unwrap() error { return e.Err }

// Is makes terminal check errors match ErrContractViolation.
func (e *CheckError) Is(target error) bool {
	return target == ErrContractViolation && !e.Retryable
}

// ErrContractViolation marks a service that answered, but not as the
// contract says.
var ErrContractViolation = errors.New("service breaks the contract")

// IsRetryable reports whether err holds only failures that probing again
// may cure (a service still starting, a transient network error).
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	var ce *CheckError
	if !errors.As(err, &ce) {
		return false
	}
	return !errors.Is(err, ErrContractViolation)
}

type probeOptions struct {
	client          *http.Client
	health          Health
	service         string
	allowStarting   bool
	maxResponseSize int64
}

// ProbeOption configures Probe.
type ProbeOption func(*probeOptions) error

// WithHTTPClient sets the HTTP client. Default: a client with a 5 s timeout.
func WithHTTPClient(c *http.Client) ProbeOption {
	return func(o *probeOptions) error {
		if c == nil {
			return errors.New("WithHTTPClient: nil client")
		}
		o.client = c
		return nil
	}
}

// WithHealth probes the paths of h (a service's Health) instead of the
// defaults /livez, /readyz and /version. Its Port is ignored: the port is
// part of the base URL.
func WithHealth(h Health) ProbeOption {
	return func(o *probeOptions) error {
		for _, p := range []string{h.Livez, h.Readyz, h.Version} {
			if !strings.HasPrefix(p, "/") {
				return fmt.Errorf("WithHealth: path %q must start with /", p)
			}
		}
		o.health = h
		return nil
	}
}

// WithServiceName requires /version to carry this service name. Default:
// any name.
func WithServiceName(name string) ProbeOption {
	return func(o *probeOptions) error {
		o.service = name
		return nil
	}
}

// WithStartingAllowed accepts 503 from /readyz (a service that is alive but
// still starting); the report says Starting. Default: /readyz must be 200.
func WithStartingAllowed() ProbeOption {
	return func(o *probeOptions) error {
		o.allowStarting = true
		return nil
	}
}

// ForService probes svc's health paths and requires its name on /version.
func ForService(svc Service) ProbeOption {
	return func(o *probeOptions) error {
		if err := WithHealth(svc.Health)(o); err != nil {
			return err
		}
		o.service = svc.Name
		return nil
	}
}

// Probe checks that the service at baseURL (for example
// "http://127.0.0.1:9000") honours the contract: /livez answers 200,
// /readyz 200 (or 503 with WithStartingAllowed), and /version 200 with a
// JSON object of exactly the keys sha, service, buildTs and imageDigest, all
// strings. Every check runs; the report holds each result and the error
// joins every failed check (each a *CheckError, see IsRetryable and
// ErrContractViolation). An invalid baseURL or option is an error before
// any request, with a nil report.
func Probe(ctx context.Context, baseURL string, opts ...ProbeOption) (*ProbeReport, error) {
	o := probeOptions{
		client:          &http.Client{Timeout: 5 * time.Second},
		health:          Health{Livez: "/livez", Readyz: "/readyz", Version: "/version"},
		maxResponseSize: 1 << 20,
	}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("probing %s: %w", baseURL, err)
		}
	}
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("probing %q: not an http(s) base URL", baseURL)
	}
	r := probe(ctx, strings.TrimRight(baseURL, "/"), &o)
	return r, r.Err()
}

func probe(ctx context.Context, base string, o *probeOptions) *ProbeReport {
	r := &ProbeReport{BaseURL: base}
	run := func(name, p string, check func(status int, body []byte) (retryable bool, err error)) {
		res := CheckResult{Name: name, URL: base + p}
		status, body, err := o.get(ctx, res.URL)
		res.Status = status
		if err != nil {
			res.Err = &CheckError{Check: name, URL: res.URL, Retryable: true, Err: err}
		} else if retryable, err := check(status, body); err != nil {
			res.Err = &CheckError{Check: name, URL: res.URL, Retryable: retryable, Err: err}
		}
		r.Checks = append(r.Checks, res)
	}
	run(CheckLivez, o.health.Livez, func(status int, _ []byte) (bool, error) {
		return wantStatus(status, http.StatusOK)
	})
	run(CheckReadyz, o.health.Readyz, func(status int, _ []byte) (bool, error) {
		if status == http.StatusServiceUnavailable && o.allowStarting {
			r.Starting = true
			return false, nil
		}
		return wantStatus(status, http.StatusOK)
	})
	run(CheckVersion, o.health.Version, func(status int, body []byte) (bool, error) {
		if retryable, err := wantStatus(status, http.StatusOK); err != nil {
			return retryable, err
		}
		v, err := parseVersion(body)
		if err != nil {
			return false, err
		}
		if o.service != "" && v.Service != o.service {
			return false, fmt.Errorf("service is %q, want %q", v.Service, o.service)
		}
		r.Version = v
		return false, nil
	})
	return r
}

// Err joins the errors of the failed checks; nil when all passed.
func (r *ProbeReport) Err() error {
	var errs []error
	for _, c := range r.Checks {
		if c.Err != nil {
			errs = append(errs, c.Err)
		}
	}
	return errors.Join(errs...)
}

// wantStatus accepts want; a 5xx may pass later, anything else is a
// contract violation.
func wantStatus(got, want int) (bool, error) {
	if got == want {
		return false, nil
	}
	return got >= 500, fmt.Errorf("status %d, want %d", got, want)
}

func (o *probeOptions) get(ctx context.Context, u string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := o.client.Do(req)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) {
			return 0, nil, fmt.Errorf("no answer: %w", err)
		}
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, o.maxResponseSize+1))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("reading the answer: %w", err)
	}
	if int64(len(body)) > o.maxResponseSize {
		return resp.StatusCode, nil, fmt.Errorf("answer larger than %d bytes", o.maxResponseSize)
	}
	return resp.StatusCode, body, nil
}

// parseVersion decodes a /version document, requiring exactly the four keys
// with string values.
func parseVersion(body []byte) (*VersionInfo, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("decoding the document: not a JSON object: %w", err)
	}
	var problems []string
	var keys []string
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !contains(VersionKeys, k) {
			problems = append(problems, fmt.Sprintf("unexpected key %q", k))
			continue
		}
		if v := bytes.TrimSpace(raw[k]); len(v) == 0 || v[0] != '"' {
			problems = append(problems, fmt.Sprintf("key %q is not a string", k))
		}
	}
	for _, k := range VersionKeys {
		if _, ok := raw[k]; !ok {
			problems = append(problems, fmt.Sprintf("missing key %q", k))
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("document breaks the contract (want exactly the string keys %s): %s", strings.Join(VersionKeys, ", "), strings.Join(problems, "; "))
	}
	var v VersionInfo
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, fmt.Errorf("decoding the document: %w", err)
	}
	return &v, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
