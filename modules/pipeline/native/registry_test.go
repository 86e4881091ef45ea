package native

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ci/ferry/modules/oci"
	"github.com/ferry-ci/ferry/modules/pipeline"
	"github.com/ferry-ci/ferry/modules/pipeline/native/nativetest"
)

// TestRegistryPushCheck checks push access against a real distribution
// registry with htpasswd authentication, before anything would be built:
// credentials from the environment, then the Docker config; missing or
// refused credentials are terminal errors naming the registry and the
// variables to set, and never echo the password.
func TestRegistryPushCheck(t *testing.T) {
	const user, password = "ferry", "s3cret-registry-password"
	host := nativetest.StartRegistry(t, user, password)
	dockerConfig := func(user, password string) string {
		dir := t.TempDir()
		auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"auths":{"`+host+`":{"auth":"`+auth+`"}}}`), 0o600); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want []string // in the error; none means success
	}{
		{name: "environment", env: map[string]string{RegistryUsernameEnv: user, RegistryPasswordEnv: password}},
		{name: "docker config", env: map[string]string{"DOCKER_CONFIG": dockerConfig(user, password)}},
		{name: "environment wins over docker config", env: map[string]string{
			RegistryUsernameEnv: user, RegistryPasswordEnv: password, "DOCKER_CONFIG": dockerConfig(user, "wrong")}},
		{name: "none", env: map[string]string{"DOCKER_CONFIG": t.TempDir()},
			want: []string{"no credentials for registry " + host, RegistryUsernameEnv, RegistryPasswordEnv, "docker login " + host}},
		{name: "wrong password", env: map[string]string{RegistryUsernameEnv: user, RegistryPasswordEnv: "not-" + password},
			want: []string{"registry " + host + " refused the credentials from " + RegistryUsernameEnv}},
		{name: "wrong docker config", env: map[string]string{"DOCKER_CONFIG": dockerConfig(user, "not-"+password)},
			want: []string{"refused the credentials from the Docker config"}},
		{name: "username only", env: map[string]string{RegistryUsernameEnv: user},
			want: []string{"set both " + RegistryUsernameEnv + " and " + RegistryPasswordEnv}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"HOME": t.TempDir()}
			for k, v := range tc.env {
				env[k] = v
			}
			cfg := Config{Registry: host + "/ferry", Getenv: func(k string) string { return env[k] }}
			// DefaultKeychain reads DOCKER_CONFIG from the process.
			t.Setenv("DOCKER_CONFIG", env["DOCKER_CONFIG"])
			t.Setenv("GITHUB_TOKEN", "")
			err := func() error {
				target, err := newRegistryTarget(cfg)
				if err != nil {
					return err
				}
				repo, err := oci.ParseRepository(target.prefix + "/scheduler-worker")
				if err != nil {
					t.Fatal(err)
				}
				return target.checkPush(context.Background(), repo)
			}()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("push check: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("push check passed, want an error with %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nwant it to contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("the error echoes the password: %v", err)
			}
			if pipeline.Classify(err) != pipeline.Terminal {
				t.Errorf("error classified %v, want terminal", pipeline.Classify(err))
			}
		})
	}
}

func TestParseRegistry(t *testing.T) {
	for _, tc := range []struct {
		in, prefix, host, err string
	}{
		{in: "ghcr.io/org", prefix: "ghcr.io/org", host: "ghcr.io"},
		{in: "127.0.0.1:5000/ferry/", prefix: "127.0.0.1:5000/ferry", host: "127.0.0.1:5000"},
		{in: "localhost:5000", prefix: "localhost:5000", host: "localhost:5000"},
		{in: "https://ghcr.io/org", err: "drop the scheme"},
		{in: "org/team", err: "the first part must be a registry host"},
		{in: "ghcr.io/Org", err: `registry "ghcr.io/Org"`},
		{in: "ghcr.io/org@sha256:00", err: "must not carry a digest"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			prefix, host, err := parseRegistry(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "host[:port]/namespace") {
					t.Fatalf("parseRegistry(%q) = %v, want an error with %q", tc.in, err, tc.err)
				}
				return
			}
			if err != nil || prefix != tc.prefix || host != tc.host {
				t.Fatalf("parseRegistry(%q) = %q, %q, %v; want %q, %q", tc.in, prefix, host, err, tc.prefix, tc.host)
			}
		})
	}
}

// recorder answers every request with 200 and remembers its URL.
type recorder struct{ urls []string }

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.urls = append(r.urls, req.URL.String())
	return &http.Response{StatusCode: 200, Body: http.NoBody, Request: req}, nil
}

// TestSchemePolicy: plain HTTP reaches a registry on loopback, or one
// named with --insecure-registry; anything else is refused.
func TestSchemePolicy(t *testing.T) {
	for _, tc := range []struct {
		name, host, url string
		insecure        bool
		want, err       string
	}{
		{name: "https passes", host: "registry.example:5000", url: "https://registry.example:5000/v2/", want: "https://registry.example:5000/v2/"},
		{name: "http off loopback is refused", host: "10.0.0.5:5000", url: "http://10.0.0.5:5000/v2/", err: "pass --insecure-registry"},
		{name: "http on loopback passes", host: "127.0.0.1:5000", url: "http://127.0.0.1:5000/v2/", want: "http://127.0.0.1:5000/v2/"},
		{name: "localhost", host: "localhost:5000", url: "http://localhost:5000/v2/", want: "http://localhost:5000/v2/"},
		{name: "insecure turns https into http", host: "registry:5000", url: "https://registry:5000/v2/", insecure: true, want: "http://registry:5000/v2/"},
		{name: "other hosts are left alone", host: "registry:5000", url: "https://auth.example/token", insecure: true, want: "https://auth.example/token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			p := &schemePolicy{host: tc.host, insecure: tc.insecure, next: rec}
			req, _ := http.NewRequest("GET", tc.url, nil)
			_, err := p.RoundTrip(req)
			if tc.err != "" {
				var pe *plainHTTPError
				if !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.err) || oci.Classify(err) != oci.Terminal || len(rec.urls) != 0 {
					t.Fatalf("RoundTrip = %v (sent %v), want a terminal refusal with %q", err, rec.urls, tc.err)
				}
				return
			}
			if err != nil || len(rec.urls) != 1 || rec.urls[0] != tc.want {
				t.Fatalf("RoundTrip sent %v, %v; want %s", rec.urls, err, tc.want)
			}
		})
	}
}
