package infra_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ci/ferry/modules/manifests/diag"
	"github.com/ferry-ci/ferry/modules/manifests/infra"
)

func TestDeploymentsInfra(t *testing.T) {
	got, err := infra.Check("../../../deployments/infra", "infra")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) > 0 {
		t.Fatalf("findings: %v", diag.List(got).Error())
	}
}

func TestRules(t *testing.T) {
	const versions = "terraform {\n  required_version = \">= 1.12.0\"\n\n  required_providers {\n    hcloud = {\n      source  = \"hetznercloud/hcloud\"\n      version = \"= 1.52.0\"\n    }\n  }\n}\n"
	tests := []struct {
		name, file, src, rule, field string
	}{
		{name: "good", file: "versions.tf", src: versions},
		{name: "range", file: "versions.tf", src: strings.Replace(versions, `"= 1.52.0"`, `"~> 1.52"`, 1), rule: infra.RulePinned, field: "terraform.required_providers.hcloud.version"},
		{name: "no version", file: "versions.tf", src: strings.Replace(versions, "      version = \"= 1.52.0\"\n", "", 1), rule: infra.RulePinned, field: "terraform.required_providers.hcloud.version"},
		{name: "unformatted", file: "versions.tf", src: strings.Replace(versions, "  required_version", "     required_version", 1), rule: infra.RuleFormat},
		{name: "syntax", file: "versions.tf", src: versions + "resource {\n", rule: infra.RuleSyntax},
		{name: "no required_version", file: "versions.tf", src: strings.Replace(versions, "  required_version = \">= 1.12.0\"\n\n", "", 1), rule: infra.RuleRequired, field: "terraform.required_version"},
		{name: "unpinned module", file: "main.tf", src: versions + "\nmodule \"x\" {\n  source = \"git::https://example.com/m.git\"\n}\n", rule: infra.RulePinned, field: "module.x.source"},
		{name: "k3s channel", file: "main.tf", src: versions + "\nvariable \"k3s_version\" {\n  default = \"stable\"\n}\n", rule: infra.RuleK3s, field: "variable.k3s_version.default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, tt.file), []byte(tt.src), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := infra.Check(dir, "infra")
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
				if f.Rule == tt.rule && strings.Contains(f.Field, tt.field) && strings.HasPrefix(f.File, "infra") {
					return
				}
			}
			t.Fatalf("want %s on %q, got %v", tt.rule, tt.field, diag.List(got).Error())
		})
	}
}

// TestProviderLock holds a committed .terraform.lock.hcl to the module's
// exact pins; a module without one passes (its lock needs the registry).
func TestProviderLock(t *testing.T) {
	const versions = "terraform {\n  required_version = \">= 1.12.0\"\n\n  required_providers {\n    hcloud = {\n      source  = \"hetznercloud/hcloud\"\n      version = \"= 1.52.0\"\n    }\n  }\n}\n"
	const lock = "provider \"registry.opentofu.org/hetznercloud/hcloud\" {\n  version     = \"1.52.0\"\n  constraints = \"1.52.0\"\n  hashes = [\n    \"h1:0000000000000000000000000000000000000000000=\",\n  ]\n}\n"
	tests := []struct {
		name, lock, field, msg string
	}{
		{name: "no lock"},
		{name: "lock matches", lock: lock},
		{name: "other version", lock: strings.Replace(lock, `version     = "1.52.0"`, `version     = "1.53.0"`, 1), field: `provider["registry.opentofu.org/hetznercloud/hcloud"].version`, msg: `"1.53.0", but the module pins "1.52.0"`},
		{name: "provider missing", lock: strings.Replace(lock, "hetznercloud/hcloud", "hashicorp/null", 1), field: `provider["hetznercloud/hcloud"]`, msg: "missing"},
		{name: "no hashes", lock: strings.Replace(lock, "  hashes = [\n    \"h1:0000000000000000000000000000000000000000000=\",\n  ]\n", "", 1), field: "hashes", msg: "missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "versions.tf"), []byte(versions), 0o644); err != nil {
				t.Fatal(err)
			}
			if tt.lock != "" {
				if err := os.WriteFile(filepath.Join(dir, infra.LockFile), []byte(tt.lock), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := infra.Check(dir, "infra")
			if err != nil {
				t.Fatal(err)
			}
			if tt.field == "" {
				if len(got) > 0 {
					t.Fatalf("want no findings, got %v", diag.List(got).Error())
				}
				return
			}
			for _, f := range got {
				if f.Rule == infra.RuleLock && f.File == "infra/"+infra.LockFile && strings.Contains(f.Field, tt.field) && strings.Contains(f.Message, tt.msg) {
					return
				}
			}
			t.Fatalf("want %s %q on %q, got %v", infra.RuleLock, tt.msg, tt.field, diag.List(got).Error())
		})
	}
}
