package policy

import (
	"errors"
	"strings"
	"testing"
)

func TestEnvTag(t *testing.T) {
	tests := []struct {
		name, env, sha, service string
		want                    string
		wantErr                 string
	}{
		{name: "full sha is shortened", env: "staging", sha: "abc1234def5678abc1234def5678abc1234def56", service: "scheduler-worker", want: "staging-abc1234-scheduler-worker"},
		{name: "short sha", env: "production", sha: "0123456", service: "migrator", want: "production-0123456-migrator"},
		{name: "env with hyphen", env: "pre-prod", sha: "0123456", service: "migrator", wantErr: `environment name "pre-prod" has '-'`},
		{name: "empty env", env: "", sha: "0123456", service: "migrator", wantErr: "environment name is empty"},
		{name: "upper sha", env: "staging", sha: "ABCDEF0", service: "migrator", wantErr: `commit "ABCDEF0" must be 7 to 64`},
		{name: "short sha rejected", env: "staging", sha: "abc", service: "migrator", wantErr: "must be 7 to 64"},
		{name: "bad service", env: "staging", sha: "0123456", service: "Migrator", wantErr: `has 'M'`},
		{name: "latest is no env tag", env: "latest", sha: "", service: "migrator", wantErr: "commit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := EnvTag(tt.env, tt.sha, tt.service)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalid) {
					t.Fatalf("EnvTag() error = %v, want ErrInvalid containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("EnvTag() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestValidateService(t *testing.T) {
	tests := []struct {
		name, service, wantErr string
	}{
		{name: "dns label", service: "scheduler-worker"},
		{name: "digits", service: "svc2"},
		{name: "empty", service: "", wantErr: "is empty"},
		{name: "path traversal", service: "../etc", wantErr: `has '.'`},
		{name: "slash", service: "a/b", wantErr: `has '/'`},
		{name: "leading hyphen", service: "-a", wantErr: "must not start or end with a hyphen"},
		{name: "too long", service: strings.Repeat("a", 64), wantErr: "at most 63"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateService(tt.service)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ValidateService(%q) = %v", tt.service, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ValidateService(%q) = %v, want %q", tt.service, err, tt.wantErr)
			}
		})
	}
}

func TestValidateRegistry(t *testing.T) {
	tests := []struct {
		name, registry, host, wantErr string
	}{
		{name: "ghcr org", registry: "ghcr.io/ferry-ci", host: "ghcr.io"},
		{name: "host and port", registry: "127.0.0.1:5000/team", host: "127.0.0.1:5000"},
		{name: "bare host", registry: "registry.local", host: "registry.local"},
		{name: "scheme", registry: "https://ghcr.io/x", wantErr: "must not have a scheme"},
		{name: "trailing slash", registry: "ghcr.io/x/", wantErr: "trailing slash"},
		{name: "tag in path", registry: "ghcr.io/x:latest", wantErr: "carry no tag"},
		{name: "upper path", registry: "ghcr.io/Ferry", wantErr: "lowercase"},
		{name: "empty", registry: "", wantErr: "registry is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateRegistry(tt.registry)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ValidateRegistry(%q) = %v, want %q", tt.registry, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ValidateRegistry(%q) = %v", tt.registry, err)
			}
			if got := RegistryHost(tt.registry); got != tt.host {
				t.Fatalf("RegistryHost(%q) = %q, want %q", tt.registry, got, tt.host)
			}
		})
	}
}

func TestValidateBuildTS(t *testing.T) {
	tests := []struct {
		name, ts string
		ok       bool
	}{
		{name: "default", ts: DefaultBuildTS, ok: true},
		{name: "utc", ts: "2026-11-27T08:00:00Z", ok: true},
		{name: "offset", ts: "2026-11-27T08:00:00+01:00"},
		{name: "date only", ts: "2026-11-27"},
		{name: "unix seconds", ts: "1764230400"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := ValidateBuildTS(tt.ts); (err == nil) != tt.ok {
				t.Fatalf("ValidateBuildTS(%q) = %v, want ok=%v", tt.ts, err, tt.ok)
			}
		})
	}
}

func TestValidateDigestAddress(t *testing.T) {
	digest := "sha256:" + strings.Repeat("ab", 32)
	tests := []struct {
		name, ref string
		ok        bool
	}{
		{name: "tag and digest", ref: "ghcr.io/x/svc:staging-0123456-svc@" + digest, ok: true},
		{name: "digest only", ref: "ghcr.io/x/svc@" + digest, ok: true},
		{name: "tag only", ref: "ghcr.io/x/svc:staging-0123456-svc"},
		{name: "short digest", ref: "ghcr.io/x/svc@sha256:abc"},
		{name: "other algorithm", ref: "ghcr.io/x/svc@sha512:" + strings.Repeat("ab", 32)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := ValidateDigestAddress(tt.ref); (err == nil) != tt.ok {
				t.Fatalf("ValidateDigestAddress(%q) = %v, want ok=%v", tt.ref, err, tt.ok)
			}
		})
	}
}

func TestServiceFromEntry(t *testing.T) {
	tests := []struct {
		name, entry, want string
		ok                bool
	}{
		{name: "folder with slash", entry: "scheduler-worker/", want: "scheduler-worker", ok: true},
		{name: "folder without slash", entry: "migrator", want: "migrator", ok: true},
		{name: "file", entry: "README.md"},
		{name: "hidden", entry: ".keep"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ServiceFromEntry(tt.entry)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("ServiceFromEntry(%q) = %q, %v; want %q, %v", tt.entry, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestLabelsAndBuildArgs(t *testing.T) {
	labels := Labels("migrator", "0123456789", "2026-11-27T08:00:00Z")
	want := map[string]string{
		"org.opencontainers.image.created":  "2026-11-27T08:00:00Z",
		"org.opencontainers.image.revision": "0123456789",
		"org.opencontainers.image.title":    "migrator",
	}
	got := map[string]string{}
	for _, l := range labels {
		got[l.Name] = l.Value
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("label %s = %q, want %q", k, got[k], v)
		}
	}
	args := BuildArgs("0123456789", DefaultBuildTS)
	if len(args) != 2 || args[0] != (Arg{"GIT_SHA", "0123456789"}) || args[1] != (Arg{"BUILD_TS", DefaultBuildTS}) {
		t.Fatalf("BuildArgs() = %v", args)
	}
	if got := CacheVolume("go-mod"); got != "ferry-ci-go-mod" {
		t.Fatalf("CacheVolume() = %q", got)
	}
}

func TestDigestReference(t *testing.T) {
	digest := "sha256:" + strings.Repeat("cd", 32)
	tests := []struct {
		name, published, want string
	}{
		{name: "tag dropped", published: "ghcr.io/x/svc:staging-0123456-svc@" + digest, want: "ghcr.io/x/svc@" + digest},
		{name: "port kept", published: "127.0.0.1:5000/svc:t@" + digest, want: "127.0.0.1:5000/svc@" + digest},
		{name: "port without tag", published: "127.0.0.1:5000/svc@" + digest, want: "127.0.0.1:5000/svc@" + digest},
		{name: "no digest", published: "ghcr.io/x/svc:t"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DigestReference(tt.published)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("DigestReference(%q) = %q, want an error", tt.published, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("DigestReference(%q) = %q, %v; want %q", tt.published, got, err, tt.want)
			}
		})
	}
}
