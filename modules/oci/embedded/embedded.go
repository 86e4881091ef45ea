// Package embedded runs a distribution registry (github.com/distribution/
// distribution/v3) inside the calling process, on a loopback port, with its
// blobs and manifests stored under a folder the caller names, so that what
// was pushed survives a restart. It is the native runner's default registry
// and the tests' real one.
//
// distribution logs through logrus's standard logger; Start points that
// logger at WithLogOutput's writer (default: discard), which affects any
// other logrus user in the process.
package embedded

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	"github.com/sirupsen/logrus"
	"golang.org/x/crypto/bcrypt"

	// The storage driver and access controller the registry is built with.
	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
)

type options struct {
	addr      string
	user      string
	password  string
	logOutput io.Writer
}

// Option configures Start.
type Option func(*options) error

// WithAddr sets the listen address; its host must be a loopback address.
// Default: the port recorded by the previous run under the folder when it is
// free (so references pushed earlier stay valid), else a free port on
// 127.0.0.1.
func WithAddr(addr string) Option {
	return func(o *options) error {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return fmt.Errorf("parsing address %q: %w", addr, err)
		}
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("parsing address %q: host must be a loopback IP", addr)
		}
		o.addr = addr
		return nil
	}
}

// WithBasicAuth requires HTTP basic authentication with this user (htpasswd,
// bcrypt). Default: no authentication.
func WithBasicAuth(user, password string) Option {
	return func(o *options) error {
		if user == "" || password == "" || strings.Contains(user, ":") {
			return errors.New("basic auth needs a user without ':' and a password")
		}
		o.user, o.password = user, password
		return nil
	}
}

// WithLogOutput receives the registry's logs. Default: io.Discard.
func WithLogOutput(w io.Writer) Option {
	return func(o *options) error {
		if w == nil {
			return errors.New("nil log output")
		}
		o.logOutput = w
		return nil
	}
}

// Registry is a running embedded registry.
type Registry struct {
	dir    string
	ln     net.Listener
	srv    *http.Server
	app    *handlers.App
	done   chan error
	closed sync.Once
	err    error
}

// addrFile records the last port, to reuse it on the next start.
const addrFile = "addr"

// Start runs a registry storing under dir (created if missing) and returns
// once it accepts connections.
func Start(dir string, opts ...Option) (*Registry, error) {
	o := &options{logOutput: io.Discard}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, fmt.Errorf("starting embedded registry: %w", err)
		}
	}
	if dir == "" {
		return nil, errors.New("starting embedded registry: no storage folder")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("starting embedded registry in %q: %w", dir, err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return nil, fmt.Errorf("starting embedded registry in %q: %w", dir, err)
	}
	ln, err := listen(dir, o.addr)
	if err != nil {
		return nil, fmt.Errorf("starting embedded registry in %q: %w", dir, err)
	}
	cfg, err := config(dir, o)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("starting embedded registry in %q: %w", dir, err)
	}
	logrus.SetOutput(o.logOutput)
	if o.logOutput == io.Discard {
		logrus.SetLevel(logrus.PanicLevel)
	}
	app, err := newApp(cfg)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("starting embedded registry in %q: %w", dir, err)
	}
	r := &Registry{
		dir:  dir,
		ln:   ln,
		app:  app,
		done: make(chan error, 1),
		srv: &http.Server{
			Handler:           app,
			ReadHeaderTimeout: 30 * time.Second,
			ErrorLog:          log.New(o.logOutput, "registry: ", 0),
		},
	}
	go func() { r.done <- r.srv.Serve(ln) }()
	_ = os.WriteFile(filepath.Join(dir, addrFile), []byte(ln.Addr().String()+"\n"), 0o644)
	return r, nil
}

func listen(dir, addr string) (net.Listener, error) {
	if addr != "" {
		return net.Listen("tcp", addr)
	}
	if b, err := os.ReadFile(filepath.Join(dir, addrFile)); err == nil {
		if ln, err := net.Listen("tcp", strings.TrimSpace(string(b))); err == nil {
			return ln, nil
		}
	}
	return net.Listen("tcp", "127.0.0.1:0")
}

func config(dir string, o *options) (*configuration.Configuration, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	cfg := &configuration.Configuration{}
	cfg.Version = configuration.CurrentVersion
	cfg.Log.AccessLog.Disabled = true
	cfg.Log.Level = "error"
	cfg.HTTP.Secret = hex.EncodeToString(secret)
	cfg.Storage = configuration.Storage{
		"filesystem": configuration.Parameters{"rootdirectory": filepath.Join(dir, "data")},
		"delete":     configuration.Parameters{"enabled": true},
		"maintenance": configuration.Parameters{
			"uploadpurging": map[any]any{"enabled": false},
		},
	}
	if o.user != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(o.password), bcrypt.DefaultCost)
		if err != nil {
			return nil, fmt.Errorf("hashing password: %w", err)
		}
		path := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(path, []byte(o.user+":"+string(hash)+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("writing %q: %w", path, err)
		}
		cfg.Auth = configuration.Auth{"htpasswd": configuration.Parameters{"realm": "ferry", "path": path}}
	}
	return cfg, nil
}

// newApp turns NewApp's panics on bad configuration into errors.
func newApp(cfg *configuration.Configuration) (app *handlers.App, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("configuring registry: %v", r)
		}
	}()
	return handlers.NewApp(context.Background(), cfg), nil
}

// Host returns "127.0.0.1:<port>", the registry part of references.
func (r *Registry) Host() string { return r.ln.Addr().String() }

// URL returns "http://127.0.0.1:<port>".
func (r *Registry) URL() string { return "http://" + r.Host() }

// Dir returns the storage folder.
func (r *Registry) Dir() string { return r.dir }

// Close stops serving (waiting up to 5s for requests in flight) and releases
// the port. Stored content stays under Dir.
func (r *Registry) Close() error {
	r.closed.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := r.srv.Shutdown(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			err = r.srv.Close()
		}
		if serr := <-r.done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
			err = serr
		}
		if aerr := r.app.Shutdown(); err == nil {
			err = aerr
		}
		if err != nil {
			r.err = fmt.Errorf("stopping embedded registry %s: %w", r.Host(), err)
		}
	})
	return r.err
}
