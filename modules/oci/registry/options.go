package registry

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
)

// Retry bounds the backoff applied to retryable failures (5xx, 429,
// connection resets and refusals, timeouts). Terminal failures (401, 403,
// 404, bad input) are never retried.
type Retry struct {
	// Attempts is the total number of tries, at least 1.
	Attempts int
	// Initial is the wait after the first failure; it doubles each time.
	Initial time.Duration
	// Max caps one wait.
	Max time.Duration
}

// DefaultRetry is 5 attempts waiting 250ms, 500ms, 1s, 2s.
var DefaultRetry = Retry{Attempts: 5, Initial: 250 * time.Millisecond, Max: 4 * time.Second}

type options struct {
	keychain       authn.Keychain
	explicit       []authn.Keychain
	retry          Retry
	requestTimeout time.Duration
	transport      http.RoundTripper
	logger         *slog.Logger
}

// Option configures a Client.
type Option func(*options) error

// WithKeychain replaces the default keychain (DefaultKeychain: GITHUB_TOKEN
// for ghcr.io, then the Docker config file).
func WithKeychain(k authn.Keychain) Option {
	return func(o *options) error {
		if k == nil {
			return errors.New("nil keychain")
		}
		o.keychain = k
		return nil
	}
}

// WithCredentials sets a username and password for one registry host; they
// win over the keychain. Default: none.
func WithCredentials(registry, username, password string) Option {
	return func(o *options) error {
		k, err := StaticKeychain(registry, username, password)
		if err != nil {
			return err
		}
		o.explicit = append(o.explicit, k)
		return nil
	}
}

// WithRetry sets the retry bounds. Default: DefaultRetry.
func WithRetry(r Retry) Option {
	return func(o *options) error {
		if r.Attempts < 1 || r.Initial < 0 || r.Max < r.Initial {
			return fmt.Errorf("invalid retry %+v: want Attempts >= 1 and 0 <= Initial <= Max", r)
		}
		o.retry = r
		return nil
	}
}

// WithRequestTimeout bounds the wait for a response's headers, so a stalled
// registry becomes a retryable timeout. Default: 30s.
func WithRequestTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("invalid request timeout %v", d)
		}
		o.requestTimeout = d
		return nil
	}
}

// WithTransport sets the HTTP transport; WithRequestTimeout then does not
// apply. Default: a clone of http.DefaultTransport with the request timeout.
func WithTransport(rt http.RoundTripper) Option {
	return func(o *options) error {
		if rt == nil {
			return errors.New("nil transport")
		}
		o.transport = rt
		return nil
	}
}

// WithLogger receives retries and progress at debug and info level. Default:
// discard (libraries are silent).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return errors.New("nil logger")
		}
		o.logger = l
		return nil
	}
}

func makeOptions(opts []Option) (*options, error) {
	o := &options{
		retry:          DefaultRetry,
		requestTimeout: 30 * time.Second,
		logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, fmt.Errorf("configuring registry client: %w", err)
		}
	}
	if o.keychain == nil {
		o.keychain = DefaultKeychain()
	}
	if len(o.explicit) > 0 {
		o.keychain = authn.NewMultiKeychain(append(o.explicit, o.keychain)...)
	}
	if o.transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.ResponseHeaderTimeout = o.requestTimeout
		t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
		t.TLSHandshakeTimeout = 10 * time.Second
		o.transport = t
	}
	return o, nil
}
