package embedded_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/ferry-ci/ferry/modules/oci"
	"github.com/ferry-ci/ferry/modules/oci/embedded"
	"github.com/ferry-ci/ferry/modules/oci/registry"
)

func start(t *testing.T, dir string, opts ...embedded.Option) *embedded.Registry {
	t.Helper()
	r, err := embedded.Start(dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func client(t *testing.T, opts ...registry.Option) *registry.Client {
	t.Helper()
	c, err := registry.New(append([]registry.Option{registry.WithKeychain(authn.NewMultiKeychain())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPersistsAcrossRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	r := start(t, dir)
	host := r.Host()
	if !strings.HasPrefix(host, "127.0.0.1:") {
		t.Fatalf("Host() = %q, want loopback", host)
	}
	repo, _ := oci.ParseRepository(host + "/ferry/api")
	img, _ := random.Image(1024, 2)
	c := client(t)
	pushed, err := c.Push(ctx, repo, img, "prod-abc1234-api")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := net.Dial("tcp", host); err == nil {
		t.Fatal("port still accepts connections after Close")
	}

	r2 := start(t, dir)
	if r2.Host() != host {
		t.Errorf("restart listens on %s, want the previous %s", r2.Host(), host)
	}
	repo2, _ := oci.ParseRepository(r2.Host() + "/ferry/api")
	tag, _ := repo2.Tag("prod-abc1234-api")
	got, err := c.Resolve(ctx, tag)
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest() != pushed.Ref.Digest() {
		t.Errorf("after restart %v, want %v", got, pushed.Ref)
	}
	if _, err := c.Image(ctx, got, mustPlatform(t, img)); err != nil {
		t.Errorf("pulling after restart: %v", err)
	}
}

func TestBasicAuth(t *testing.T) {
	ctx := context.Background()
	r := start(t, t.TempDir(), embedded.WithBasicAuth("ferry", "right-password"))
	repo, _ := oci.ParseRepository(r.Host() + "/ferry/api")
	img, _ := random.Image(256, 1)

	tests := []struct {
		name     string
		opts     []registry.Option
		wantCode int
	}{
		{name: "wrong password", opts: []registry.Option{registry.WithCredentials(r.Host(), "ferry", "wrong-password")}, wantCode: 401},
		{name: "anonymous", wantCode: 401},
		{name: "right password", opts: []registry.Option{registry.WithCredentials(r.Host(), "ferry", "right-password")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client(t, tt.opts...).Push(ctx, repo, img, "prod-abc1234-api")
			if tt.wantCode == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var te *transport.Error
			if !errors.As(err, &te) || te.StatusCode != tt.wantCode || !oci.IsTerminal(err) {
				t.Fatalf("Push = %v, want terminal HTTP %d", err, tt.wantCode)
			}
			if strings.Contains(err.Error(), "wrong-password") {
				t.Error("error leaks the password")
			}
			if !strings.Contains(err.Error(), repo.String()) {
				t.Errorf("error %q does not name the repository", err)
			}
		})
	}
}

func TestStartValidates(t *testing.T) {
	tests := []struct {
		name string
		dir  string
		opt  embedded.Option
		want string
	}{
		{name: "no dir", want: "no storage folder"},
		{name: "public address", dir: t.TempDir(), opt: embedded.WithAddr("0.0.0.0:0"), want: "must be a loopback IP"},
		{name: "bad address", dir: t.TempDir(), opt: embedded.WithAddr("nope"), want: `parsing address "nope"`},
		{name: "bad user", dir: t.TempDir(), opt: embedded.WithBasicAuth("a:b", "p"), want: "basic auth needs"},
		{name: "nil log", dir: t.TempDir(), opt: embedded.WithLogOutput(nil), want: "nil log output"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []embedded.Option
			if tt.opt != nil {
				opts = append(opts, tt.opt)
			}
			r, err := embedded.Start(tt.dir, opts...)
			if err == nil {
				r.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Start = %v, want containing %q", err, tt.want)
			}
		})
	}
}
