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

func TestSignatureTag(t *testing.T) {
	hex := strings.Repeat("0a", 32)
	tests := []struct{ name, ref, want, wantErr string }{
		{name: "registry with port", ref: "127.0.0.1:5000/team/migrator@sha256:" + hex, want: "127.0.0.1:5000/team/migrator:sha256-" + hex + ".sig"},
		{name: "tag and digest", ref: "ghcr.io/x/migrator:staging@sha256:" + hex, want: "ghcr.io/x/migrator:staging:sha256-" + hex + ".sig"},
		{name: "tag only", ref: "ghcr.io/x/migrator:staging", wantErr: "not pinned by a sha256 digest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SignatureTag(tt.ref)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("SignatureTag() = %q, %v; want error %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("SignatureTag() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestPlanServices(t *testing.T) {
	tests := []struct {
		name, plan, wantErr string
		want                []string
	}{
		{name: "two targets", plan: `[{"service":"a","tags":["a-1"]},{"service":"b-2"}]`, want: []string{"a", "b-2"}},
		{name: "as cmd/ci plan --output json prints it", plan: `[
  {
    "service": "scheduler-worker",
    "fingerprint": "231ce50ec6ffa5978c05e3e3bc2f6678",
    "tags": ["scheduler-worker-231ce50ec6ffa5978c05e3e3bc2f6678", "staging-402885d-scheduler-worker"],
    "commit": "402885d65ad61b0323a305f10072eb7a1c051b9b",
    "reasons": ["named"]
  }
]`, want: []string{"scheduler-worker"}},
		{name: "nothing affected", plan: `[]`, want: []string{}},
		{name: "nothing affected, as Go encodes a nil list", plan: "null\n", want: []string{}},
		{name: "progress instead of JSON", plan: "migrator  test  ok", wantErr: "reading the plan"},
		{name: "bad name", plan: `[{"service":"a b"}]`, wantErr: "target 0"},
		{name: "missing name", plan: `[{"tags":[]}]`, wantErr: "service name is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PlanServices(tt.plan)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("PlanServices() = %q, %v; want error %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || strings.Join(got, ",") != strings.Join(tt.want, ",") || got == nil {
				t.Fatalf("PlanServices() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestValidateInputsPassedOn(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		wantErr string
	}{
		{name: "revision hash", err: ValidateRevision("base", "0123abc")},
		{name: "revision branch", err: ValidateRevision("base", "origin/main")},
		{name: "revision option", err: ValidateRevision("base", "--exec=x"), wantErr: "is not a revision"},
		{name: "revision range", err: ValidateRevision("base", "a..b"), wantErr: "is not a revision"},
		{name: "revision shell", err: ValidateRevision("head", "main$(x)"), wantErr: "a revision is letters"},
		{name: "flag value URL", err: ValidateFlagValue("deployments", "https://github.com/o/r.git")},
		{name: "flag value empty", err: ValidateFlagValue("deployments", ""), wantErr: "--deployments is empty"},
		{name: "flag value option", err: ValidateFlagValue("deployments", "-u"), wantErr: "must not start with a hyphen"},
		{name: "flag value space", err: ValidateFlagValue("deployments", "a b"), wantErr: "whitespace"},
		{name: "image pinned", err: ValidateImageRef("cosign-image", "x/cosign@sha256:"+strings.Repeat("1", 64))},
		{name: "image by tag", err: ValidateImageRef("cosign-image", "x/cosign:v3"), wantErr: "must be pinned by a sha256 digest"},
		{name: "identity exact", err: ValidateIdentity("https://github.com/o/r/.github/workflows/dagger.yml@refs/heads/main", "", "https://token.actions.githubusercontent.com")},
		{name: "identity anchored", err: ValidateIdentity("", "^https://github.com/o/r/.*$", "https://token.actions.githubusercontent.com")},
		{name: "identity none", err: ValidateIdentity("", "", "https://i"), wantErr: "needs one of"},
		{name: "identity unanchored", err: ValidateIdentity("", "github.com/o/r", "https://i"), wantErr: "must be anchored"},
		{name: "issuer plain http", err: ValidateIdentity("x", "", "http://i"), wantErr: "https URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.wantErr == "" {
				if tt.err != nil {
					t.Fatalf("error = %v, want none", tt.err)
				}
				return
			}
			if tt.err == nil || !strings.Contains(tt.err.Error(), tt.wantErr) || !errors.Is(tt.err, ErrInvalid) {
				t.Fatalf("error = %v, want ErrInvalid with %q", tt.err, tt.wantErr)
			}
		})
	}
}
