package native

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferry-ci/ferry/modules/oci"
	"github.com/ferry-ci/ferry/modules/oci/registry"
	"github.com/ferry-ci/ferry/modules/pipeline"
)

// The environment variables holding a real registry's credentials. They win
// over the Docker config file (docker login), which is read next.
const (
	RegistryUsernameEnv = "FERRY_REGISTRY_USERNAME"
	RegistryPasswordEnv = "FERRY_REGISTRY_PASSWORD"
)

// registryTarget is where images go: the embedded registry or a real one,
// with the credentials and transport every registry call (push, sign,
// verify, the promotion gate) shares.
type registryTarget struct {
	// prefix is host[:port][/namespace]; an image's repository is
	// prefix/<image>.
	prefix string
	// host is the registry's host[:port], the key of its credentials.
	host string
	// source says where the credentials come from, for messages; empty
	// when there are none.
	source    string
	keychain  authn.Keychain
	transport http.RoundTripper
}

// parseRegistry validates --registry: host[:port] with an optional
// namespace, no scheme, tag or digest.
func parseRegistry(s string) (prefix, host string, err error) {
	bad := func(why string) (string, string, error) {
		return "", "", pipeline.MarkTerminal(fmt.Errorf("configuring the runner: registry %q: %s; want host[:port]/namespace such as ghcr.io/org", s, why))
	}
	if strings.Contains(s, "://") {
		return bad("drop the scheme")
	}
	prefix = strings.TrimSuffix(s, "/")
	host, _, _ = strings.Cut(prefix, "/")
	if !strings.ContainsAny(host, ".:") && host != "localhost" {
		return bad("the first part must be a registry host (with a dot or a port)")
	}
	if _, err := oci.ParseRepository(prefix + "/image"); err != nil {
		return bad(err.Error())
	}
	return prefix, host, nil
}

// isLoopback reports whether host[:port] names this machine.
func isLoopback(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && ip.IsLoopback()
}

// newRegistryTarget resolves the credentials of a real registry: the
// username and password in the environment, else the Docker config file
// (and GITHUB_TOKEN for ghcr.io).
func newRegistryTarget(cfg Config) (*registryTarget, error) {
	prefix, host, err := parseRegistry(cfg.Registry)
	if err != nil {
		return nil, err
	}
	t := &registryTarget{prefix: prefix, host: host}
	user, pass := cfg.getenv(RegistryUsernameEnv), cfg.getenv(RegistryPasswordEnv)
	switch {
	case user != "" && pass != "":
		k, err := registry.StaticKeychain(host, user, pass)
		if err != nil {
			return nil, pipeline.MarkTerminal(fmt.Errorf("configuring the runner: %w", err))
		}
		t.keychain, t.source = k, RegistryUsernameEnv+" and "+RegistryPasswordEnv
	case user != "" || pass != "":
		return nil, pipeline.MarkTerminal(fmt.Errorf("configuring the runner: set both %s and %s, or neither", RegistryUsernameEnv, RegistryPasswordEnv))
	default:
		t.keychain = registry.DefaultKeychain()
		t.source = "the Docker config (docker login)"
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.ResponseHeaderTimeout = 30 * time.Second
	base.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	base.TLSHandshakeTimeout = 10 * time.Second
	t.transport = &schemePolicy{host: host, insecure: cfg.InsecureRegistry, next: base}
	return t, nil
}

// schemePolicy keeps plain HTTP to loopback registries unless the user
// allowed it for the registry host (--insecure-registry), in which case
// every request to that host goes over HTTP. go-containerregistry alone
// would also fall back to HTTP for private (RFC 1918) addresses.
type schemePolicy struct {
	host     string
	insecure bool
	next     http.RoundTripper
}

func (s *schemePolicy) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host == s.host {
		switch {
		case s.insecure && req.URL.Scheme == "https":
			req = req.Clone(req.Context())
			req.URL.Scheme = "http"
		case !s.insecure && req.URL.Scheme == "http" && !isLoopback(s.host):
			return nil, &plainHTTPError{host: s.host}
		}
	}
	return s.next.RoundTrip(req)
}

// client returns the registry client of the target.
func (t *registryTarget) client() (*registry.Client, error) {
	return registry.New(registry.WithKeychain(t.keychain), registry.WithTransport(t.transport),
		registry.WithRetry(registry.Retry{Attempts: 3, Initial: 100 * time.Millisecond, Max: time.Second}))
}

// remote returns the options signing passes to the registry.
func (t *registryTarget) remote() []remote.Option {
	return []remote.Option{remote.WithAuthFromKeychain(t.keychain), remote.WithTransport(t.transport)}
}

// checkPush proves the credentials may push to repo before anything is
// built: a registry that refuses them is a terminal error naming the
// registry and the variables to set.
func (t *registryTarget) checkPush(ctx context.Context, repo oci.Repository) error {
	auth, err := authn.Resolve(ctx, t.keychain, repo.Name())
	if err != nil {
		return pipeline.MarkTerminal(fmt.Errorf("reading the credentials for %s: %w", t.host, err))
	}
	anonymous := auth == authn.Anonymous
	done := make(chan error, 1)
	go func() {
		done <- remote.CheckPushPermission(repo.Name().Tag("ferry-push-check"), t.keychain, t.transport)
	}()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case err = <-done:
	}
	if err == nil {
		return nil
	}
	hint := t.login()
	switch {
	case oci.Classify(err) == oci.Retryable:
		return pipeline.MarkRetryable(fmt.Errorf("checking push access to %s: registry %s did not answer: %w", repo, t.host, err))
	case anonymous:
		return pipeline.MarkTerminal(fmt.Errorf("checking push access to %s: no credentials for registry %s (%s): %w", repo, t.host, hint, err))
	default:
		return pipeline.MarkTerminal(fmt.Errorf("checking push access to %s: registry %s refused the credentials from %s (%s): %w", repo, t.host, t.source, hint, err))
	}
}

// login says how to give the registry's credentials.
func (t *registryTarget) login() string {
	return fmt.Sprintf("set %s and %s, or docker login %s", RegistryUsernameEnv, RegistryPasswordEnv, t.host)
}

// plainHTTPError refuses plain HTTP to a registry off loopback.
type plainHTTPError struct{ host string }

func (e *plainHTTPError) Error() string {
	return fmt.Sprintf("refusing plain HTTP to registry %s: pass --insecure-registry to allow it", e.host)
}

// Terminal marks the refusal as bad input for the registry's classifier.
func (e *plainHTTPError) Terminal() bool { return true }
