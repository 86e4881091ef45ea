package sopsfile_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"sigs.k8s.io/yaml"

	"github.com/ferry-ci/ferry/modules/manifests/diag"
	"github.com/ferry-ci/ferry/modules/manifests/internal/tooltest"
	"github.com/ferry-ci/ferry/modules/manifests/sopsfile"
)

const (
	recipientA = "age15yw2qewk0w2q8gfa3zpjas9wd4luxgwsp5qsylz0ams9kvvusanqk9p4lc"
	recipientB = "age1j30xv2l6yvphedavx54nsz7d27clh5v8998u6tcm7gvtpapev4lqvjwqcr"
	enc        = "ENC[AES256_GCM,data:Zm9v,iv:aXY=,tag:dGFn,type:str]"
)

var cfg = &sopsfile.Config{CreationRules: []sopsfile.CreationRule{
	{PathRegex: `staging/[^/]+\.sops\.yaml$`, EncryptedRegex: "^(data|stringData)$", Age: recipientA + "," + recipientB},
}}

func doc(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func encrypted(recipients ...string) string {
	s := "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData:\n  TOKEN: " + enc + "\nsops:\n  mac: " + enc + "\n  encrypted_regex: ^(data|stringData)$\n  age:\n"
	for _, r := range recipients {
		s += "    - recipient: " + r + "\n      enc: |\n        -----BEGIN AGE ENCRYPTED FILE-----\n        x\n        -----END AGE ENCRYPTED FILE-----\n"
	}
	return s
}

func TestCheckDocument(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		doc   string
		rule  string
		field string
	}{
		{name: "good", file: "staging/s.sops.yaml", doc: encrypted(recipientA, recipientB)},
		{name: "plain secret", file: "staging/s.sops.yaml", doc: "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {TOKEN: hunter2}\n", rule: sopsfile.RuleEncrypted, field: "sops"},
		{name: "one plaintext value", file: "staging/s.sops.yaml", doc: strings.Replace(encrypted(recipientA, recipientB), "  TOKEN: "+enc, "  TOKEN: "+enc+"\n  EXTRA: hunter2", 1), rule: sopsfile.RuleEncrypted, field: "stringData.EXTRA"},
		{name: "no MAC", file: "staging/s.sops.yaml", doc: strings.Replace(encrypted(recipientA, recipientB), "  mac: "+enc, "  mac: \"\"", 1), rule: sopsfile.RuleMAC, field: "sops.mac"},
		{name: "missing recipient", file: "staging/s.sops.yaml", doc: encrypted(recipientA), rule: sopsfile.RuleRecipient, field: "sops.age"},
		{name: "no rule", file: "prod/s.sops.yaml", doc: encrypted(recipientA, recipientB), rule: sopsfile.RuleCreation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sopsfile.CheckDocument(cfg, tt.file, doc(t, tt.doc))
			if strings.Contains(diag.List(got).Error(), "hunter2") {
				t.Fatalf("a finding echoes a secret value: %v", diag.List(got).Error())
			}
			if tt.rule == "" {
				if len(got) > 0 {
					t.Fatalf("want no findings, got %v", diag.List(got).Error())
				}
				return
			}
			for _, f := range got {
				if f.Rule == tt.rule && f.Field == tt.field && f.File == tt.file {
					return
				}
			}
			t.Fatalf("want %s on %q, got %v", tt.rule, tt.field, diag.List(got).Error())
		})
	}
}

// The committed secrets: every one encrypted for its environment.
func TestDeploymentsSecrets(t *testing.T) {
	root := "../../../deployments"
	got, err := sopsfile.Check(root, func(rel string) bool { return rel == "compose" || rel == "infra" })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) > 0 {
		t.Fatalf("findings: %v", diag.List(got).Error())
	}
	files, _ := filepath.Glob(filepath.Join(root, "overlays/*/secrets/*.sops.yaml"))
	if len(files) < 4 {
		t.Fatalf("found %d encrypted secrets, want 2 per environment", len(files))
	}
}

func sopsBinary(t *testing.T) string { return tooltest.Find(t, "sops") }

// TestRoundTrip encrypts a Secret with the real sops CLI for a throwaway
// age key, checks the result passes the offline checks, and decrypts it back.
func TestRoundTrip(t *testing.T) {
	sops := sopsBinary(t)
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	other, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rules := "creation_rules:\n  - path_regex: staging/secrets/[^/]+\\.sops\\.yaml$\n    encrypted_regex: ^(data|stringData)$\n    age: " +
		id.Recipient().String() + "," + other.Recipient().String() + "\n"
	if err := os.WriteFile(filepath.Join(dir, ".sops.yaml"), []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	plain := "apiVersion: v1\nkind: Secret\nmetadata:\n    name: app\ntype: Opaque\nstringData:\n    TOKEN: round-trip-value\n"
	rel := "staging/secrets/app.sops.yaml"
	if err := os.MkdirAll(filepath.Join(dir, "staging/secrets"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, rel), []byte(plain), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(env []string, args ...string) []byte {
		t.Helper()
		cmd := exec.Command(sops, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), env...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("sops %s: %v: %s", args[0], err, stderr.String())
		}
		return out
	}
	run(nil, "--encrypt", "--in-place", rel)
	b, err := os.ReadFile(filepath.Join(dir, rel))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("round-trip-value")) {
		t.Fatal("the encrypted file holds the plaintext")
	}
	got, err := sopsfile.Check(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) > 0 {
		t.Fatalf("a file sops encrypted fails the checks: %v", diag.List(got).Error())
	}
	out := run([]string{"SOPS_AGE_KEY=" + id.String()}, "--decrypt", rel)
	if !bytes.Equal(out, []byte(plain)) {
		t.Fatalf("decrypted:\n%s\nwant:\n%s", out, plain)
	}
	// Tampering with a value breaks the MAC.
	tampered := bytes.Replace(b, []byte("ENC[AES256_GCM,data:"), []byte("ENC[AES256_GCM,data:AA"), 1)
	if err := os.WriteFile(filepath.Join(dir, rel), tampered, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sops, "--decrypt", rel)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SOPS_AGE_KEY="+id.String())
	if err := cmd.Run(); err == nil {
		t.Fatal("sops decrypted a tampered file")
	}
}
