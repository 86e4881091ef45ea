package compose_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ci/ferry/modules/manifests/compose"
	"github.com/ferry-ci/ferry/modules/manifests/diag"
)

const bridge = "../../../deployments/compose/compose.yaml"

const digest = "sha256:07c346c1b0418952773dc6c4b1a7ed36a7d2e4152e606b5b0e778b42d04c8f0a"

func env(overrides map[string]string) map[string]string {
	e := map[string]string{
		"SCHEDULER_WORKER_IMAGE": "ghcr.io/ferry-ci/scheduler-worker@" + digest,
		"MIGRATOR_IMAGE":         "ghcr.io/ferry-ci/migrator@" + digest,
		"POSTGRES_IMAGE":         "docker.io/library/postgres@" + digest,
		"TEMPORAL_IMAGE":         "docker.io/temporalio/temporal@" + digest,
		"POSTGRES_PASSWORD":      "p",
		"SCHEDULER_API_TOKEN":    "t",
	}
	for k, v := range overrides {
		if v == "" {
			delete(e, k)
		} else {
			e[k] = v
		}
	}
	return e
}

func TestBridge(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		rule  string
		field string
		msg   string
	}{
		{name: "digests", env: env(nil)},
		{name: "tag given", env: env(map[string]string{"SCHEDULER_WORKER_IMAGE": "ghcr.io/ferry-ci/scheduler-worker:v1"}), rule: compose.RuleImage, field: "services.scheduler-worker.image", msg: "$SCHEDULER_WORKER_IMAGE"},
		{name: "latest given", env: env(map[string]string{"POSTGRES_IMAGE": "postgres:latest"}), rule: compose.RuleImage, field: "services.postgres.image", msg: "latest"},
		{name: "image unset", env: env(map[string]string{"SCHEDULER_WORKER_IMAGE": ""}), rule: compose.RuleSpec, msg: "SCHEDULER_WORKER_IMAGE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := compose.Check(context.Background(), bridge, "compose.yaml", tt.env)
			if err != nil {
				t.Fatal(err)
			}
			if tt.rule == "" {
				if len(got) > 0 {
					t.Fatalf("want no findings, got %v", diag.List(got).Error())
				}
				return
			}
			for _, f := range got {
				if f.Rule == tt.rule && strings.Contains(f.Field, tt.field) && strings.Contains(f.Message, tt.msg) {
					return
				}
			}
			t.Fatalf("want %s %q on %q, got %v", tt.rule, tt.msg, tt.field, diag.List(got).Error())
		})
	}
}

func TestBridgeImagesComeFromRequiredVariables(t *testing.T) {
	vars, err := compose.ImageVars(bridge)
	if err != nil {
		t.Fatal(err)
	}
	if vars["scheduler-worker"] != "SCHEDULER_WORKER_IMAGE" {
		t.Fatalf("scheduler-worker image variable = %q, want SCHEDULER_WORKER_IMAGE", vars["scheduler-worker"])
	}
	b, err := os.ReadFile(bridge)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "image: ${SCHEDULER_WORKER_IMAGE:?") {
		t.Fatal("scheduler-worker's image must be ${SCHEDULER_WORKER_IMAGE:?...}, so Compose refuses to start without it")
	}
}

func TestRules(t *testing.T) {
	const base = `
services:
  scheduler-worker:
    image: ghcr.io/ferry-ci/scheduler-worker@` + digest + `
    stop_grace_period: 30s
    healthcheck:
      test: ["CMD", "/scheduler-worker", "probe", "http://127.0.0.1:9000/readyz"]
`
	tests := []struct {
		name, edit, with, rule, field string
	}{
		{name: "good"},
		{name: "short grace", edit: "stop_grace_period: 30s", with: "stop_grace_period: 10s", rule: compose.RuleGrace, field: "stop_grace_period"},
		{name: "no grace", edit: "    stop_grace_period: 30s\n", with: "", rule: compose.RuleGrace, field: "stop_grace_period"},
		{name: "SIGKILL", edit: "stop_grace_period: 30s", with: "stop_grace_period: 30s\n    stop_signal: SIGKILL", rule: compose.RuleGrace, field: "stop_signal"},
		{name: "no healthcheck", edit: "    healthcheck:\n      test: [\"CMD\", \"/scheduler-worker\", \"probe\", \"http://127.0.0.1:9000/readyz\"]\n", with: "", rule: compose.RuleHealthcheck, field: "healthcheck"},
		{name: "healthcheck off contract", edit: "9000/readyz", with: "8080/health", rule: compose.RuleHealthcheck, field: "healthcheck.test"},
		{name: "tag literal", edit: "@" + digest, with: ":v1", rule: compose.RuleImage, field: "image"},
		{name: "optional variable", edit: "ghcr.io/ferry-ci/scheduler-worker@" + digest, with: "${IMG}", rule: compose.RuleImage, field: "image"},
		{name: "default tag", edit: "ghcr.io/ferry-ci/scheduler-worker@" + digest, with: "${IMG:-ghcr.io/ferry-ci/scheduler-worker:v1}", rule: compose.RuleImage, field: "image"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := base
			if tt.edit != "" {
				if !strings.Contains(src, tt.edit) {
					t.Fatalf("fixture edit %q does not apply", tt.edit)
				}
				src = strings.Replace(src, tt.edit, tt.with, 1)
			}
			file := filepath.Join(t.TempDir(), "compose.yaml")
			if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := compose.Check(context.Background(), file, "compose.yaml", map[string]string{})
			if err != nil {
				t.Fatal(err)
			}
			if tt.rule == "" {
				if len(got) > 0 {
					t.Fatalf("want no findings, got %v", diag.List(got).Error())
				}
				return
			}
			for _, f := range got {
				if f.Rule == tt.rule && f.Field == "services.scheduler-worker."+tt.field && f.File == "compose.yaml" {
					return
				}
			}
			t.Fatalf("want %s on %q, got %v", tt.rule, tt.field, diag.List(got).Error())
		})
	}
}

func TestCheckImageValue(t *testing.T) {
	tests := []struct {
		name, value string
		ok          bool
	}{
		{name: "digest", value: "ghcr.io/ferry-ci/scheduler-worker@" + digest, ok: true},
		{name: "tag", value: "ghcr.io/ferry-ci/scheduler-worker:v1"},
		{name: "empty", value: ""},
		{name: "digest only", value: digest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if msg := compose.CheckImageValue(tt.value); (msg == "") != tt.ok {
				t.Fatalf("CheckImageValue(%q) = %q, want ok=%v", tt.value, msg, tt.ok)
			}
		})
	}
}
