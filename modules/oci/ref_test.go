package oci

import (
	"errors"
	"strings"
	"testing"
)

const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParsePinned(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr string
	}{
		{name: "full", in: "ghcr.io/ferry-ci/api@sha256:" + hex64, want: "ghcr.io/ferry-ci/api@sha256:" + hex64},
		{name: "loopback port", in: "127.0.0.1:5000/x/y@sha256:" + hex64, want: "127.0.0.1:5000/x/y@sha256:" + hex64},
		{name: "tag and digest keeps digest", in: "ghcr.io/a/b:prod-abc1234-b@sha256:" + hex64, want: "ghcr.io/a/b@sha256:" + hex64},
		{name: "latest", in: "ghcr.io/a/b:latest", wantErr: `parsing reference "ghcr.io/a/b:latest": tag "latest" is mutable`},
		{name: "latest beside digest", in: "ghcr.io/a/b:latest@sha256:" + hex64, wantErr: `tag "latest" is refused even beside a digest`},
		{name: "tag only", in: "ghcr.io/a/b:v1", wantErr: `parsing reference "ghcr.io/a/b:v1": reference has no digest`},
		{name: "bare name", in: "ghcr.io/a/b", wantErr: "reference has no digest"},
		{name: "short digest", in: "ghcr.io/a/b@sha256:abc", wantErr: `parsing reference "ghcr.io/a/b@sha256:abc": sha256 digest has 3 hex characters, want 64`},
		{name: "long digest", in: "ghcr.io/a/b@sha256:" + hex64 + "00", wantErr: "has 66 hex characters"},
		{name: "wrong algorithm", in: "ghcr.io/a/b@sha512:" + hex64, wantErr: `digest algorithm "sha512" is not supported`},
		{name: "upper hex", in: "ghcr.io/a/b@sha256:" + strings.ToUpper(hex64), wantErr: "lowercase hexadecimal"},
		{name: "no algorithm", in: "ghcr.io/a/b@" + hex64, wantErr: "digest must look like sha256:"},
		{name: "bad repo", in: "ghcr.io/A B@sha256:" + hex64, wantErr: `parsing reference "ghcr.io/A B@sha256:`},
		{name: "empty", in: "", wantErr: "reference has no digest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePinned(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParsePinned(%q) error = %v, want containing %q", tt.in, err, tt.wantErr)
				}
				if !errors.Is(err, ErrInvalidReference) || !IsTerminal(err) {
					t.Errorf("error %v is not a terminal ErrInvalidReference", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePinned(%q): %v", tt.in, err)
			}
			if got.String() != tt.want {
				t.Errorf("String() = %q, want %q", got.String(), tt.want)
			}
			if got.Name().String() != tt.want {
				t.Errorf("Name() = %q, want %q", got.Name().String(), tt.want)
			}
		})
	}
}

func TestParseTagged(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantTag string
		wantErr string
	}{
		{name: "env tag", in: "ghcr.io/a/b:prod-abc1234-b", wantTag: "prod-abc1234-b"},
		{name: "port no tag", in: "localhost:5000/a", wantErr: "reference has no tag"},
		{name: "port and tag", in: "localhost:5000/a:t1", wantTag: "t1"},
		{name: "latest", in: "ghcr.io/a/b:latest", wantErr: `tag "latest" is mutable and refused`},
		{name: "implicit latest", in: "ghcr.io/a/b", wantErr: `implicit "latest" is refused`},
		{name: "digest", in: "ghcr.io/a/b@sha256:" + hex64, wantErr: "use ParsePinned"},
		{name: "bad tag char", in: "ghcr.io/a/b:-x", wantErr: `not allowed at position 0`},
		{name: "tag too long", in: "ghcr.io/a/b:" + strings.Repeat("a", 129), wantErr: "at most 128"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTagged(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), tt.in) {
					t.Fatalf("ParseTagged(%q) error = %v, want containing %q and the input", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Tag() != tt.wantTag || got.String() != tt.in {
				t.Errorf("got %q tag %q, want %q tag %q", got.String(), got.Tag(), tt.in, tt.wantTag)
			}
		})
	}
}

func TestRepository(t *testing.T) {
	r, err := ParseRepository("127.0.0.1:5000/ferry/api")
	if err != nil {
		t.Fatal(err)
	}
	if r.Registry() != "127.0.0.1:5000" || r.String() != "127.0.0.1:5000/ferry/api" {
		t.Errorf("got registry %q repo %q", r.Registry(), r.String())
	}
	d, err := ParseDigest("sha256:" + hex64)
	if err != nil {
		t.Fatal(err)
	}
	if p := r.Pin(d); p.String() != "127.0.0.1:5000/ferry/api@sha256:"+hex64 || p.Digest() != d || p.Repository() != r {
		t.Errorf("Pin = %v", p)
	}
	if _, err := r.Tag("latest"); err == nil {
		t.Error("Tag(latest) succeeded")
	}
	for _, bad := range []string{"ghcr.io/a:v1", "ghcr.io/a@sha256:" + hex64, "", "UPPER/case"} {
		if _, err := ParseRepository(bad); err == nil {
			t.Errorf("ParseRepository(%q) succeeded", bad)
		}
	}
}

func TestEnvTag(t *testing.T) {
	tests := []struct {
		name, env, sha, service string
		want, wantErr           string
	}{
		{name: "example", env: "prod", sha: "abc1234def5678", service: "scheduler-worker", want: "prod-abc1234-scheduler-worker"},
		{name: "exactly 7", env: "staging", sha: "abc1234", service: "api", want: "staging-abc1234-api"},
		{name: "env hyphen", env: "pre-prod", sha: "abc1234", service: "api", wantErr: `parsing reference "pre-prod": environment name has '-'`},
		{name: "env upper", env: "Prod", sha: "abc1234", service: "api", wantErr: "must start with a lowercase letter"},
		{name: "env empty", env: "", sha: "abc1234", service: "api", wantErr: "environment name is empty"},
		{name: "sha short", env: "prod", sha: "abc12", service: "api", wantErr: `parsing reference "abc12": commit sha must be`},
		{name: "sha not hex", env: "prod", sha: "xyz1234", service: "api", wantErr: "commit sha must be"},
		{name: "service upper", env: "prod", sha: "abc1234", service: "Api", wantErr: `service name has 'A'`},
		{name: "service trailing hyphen", env: "prod", sha: "abc1234", service: "api-", wantErr: "must not start or end with a hyphen"},
		{name: "service too long", env: "prod", sha: "abc1234", service: strings.Repeat("a", 64), wantErr: "at most 63"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := EnvTag(tt.env, tt.sha, tt.service)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("EnvTag error = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("EnvTag = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestFingerprintTag(t *testing.T) {
	got, err := FingerprintTag("api", "0123456789abcdef0123456789abcdef")
	if err != nil || got != "api-0123456789abcdef0123456789abcdef" {
		t.Fatalf("FingerprintTag = %q, %v", got, err)
	}
	if _, err := FingerprintTag("api", "xyz"); err == nil {
		t.Error("accepted a non-hex fingerprint")
	}
	if _, err := FingerprintTag("API", hex64); err == nil {
		t.Error("accepted an invalid service")
	}
	if got, err := FingerprintTag(strings.Repeat("s", 63), hex64); err != nil || len(got) != 128 {
		t.Errorf("longest service with a full fingerprint: %q, %v", got, err)
	}
}
