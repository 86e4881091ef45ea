// Package sopsfile checks SOPS-encrypted manifests without decrypting them:
// every Secret in the tree is encrypted, every encrypted file matches a
// creation rule of .sops.yaml (first match wins, as in sops), is encrypted
// for exactly that rule's age recipients, carries a MAC, and has no
// plaintext value under data or stringData.
//
// It reads the files as sops writes them (a top-level "sops" metadata map
// and values of the form ENC[AES256_GCM,data:...,type:...]); it does not
// need sops or any key.
package sopsfile

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/ferry-ci/ferry/modules/manifests/diag"
)

// Rule names, as they appear in findings.
const (
	RuleEncrypted = "sops-encrypted"
	RuleCreation  = "sops-creation-rule"
	RuleMAC       = "sops-mac"
	RuleRecipient = "sops-recipients"
)

// ConfigFile is the name sops looks for.
const ConfigFile = ".sops.yaml"

// CreationRule is one entry of .sops.yaml's creation_rules.
type CreationRule struct {
	PathRegex        string `json:"path_regex"`
	EncryptedRegex   string `json:"encrypted_regex,omitempty"`
	UnencryptedRegex string `json:"unencrypted_regex,omitempty"`
	Age              string `json:"age"`
}

// Config is the part of .sops.yaml these checks read.
type Config struct {
	CreationRules []CreationRule `json:"creation_rules"`
}

// Recipients lists a rule's age recipients.
func (r CreationRule) Recipients() []string {
	var out []string
	for _, a := range strings.Split(r.Age, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	sort.Strings(out)
	return out
}

// LoadConfig reads root/.sops.yaml.
func LoadConfig(root string) (*Config, error) {
	b, err := os.ReadFile(filepath.Join(root, ConfigFile))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", ConfigFile, err)
	}
	var c Config
	if err := yaml.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", ConfigFile, err)
	}
	return &c, nil
}

// Match returns the first creation rule whose path_regex matches rel (a
// slash-separated path relative to the folder of .sops.yaml), as sops does.
func (c *Config) Match(rel string) (int, *CreationRule, error) {
	for i := range c.CreationRules {
		r := &c.CreationRules[i]
		re, err := regexp.Compile(r.PathRegex)
		if err != nil {
			return i, nil, fmt.Errorf("compiling %s creation_rules[%d].path_regex: %w", ConfigFile, i, err)
		}
		if re.MatchString(rel) {
			return i, r, nil
		}
	}
	return -1, nil, nil
}

var encValue = regexp.MustCompile(`^ENC\[AES256_GCM,data:[^,]*,iv:[^,]+,tag:[^,]+,type:[a-z]+\]$`)

// IsEncryptedValue reports whether s is a sops-encrypted value.
func IsEncryptedValue(s string) bool { return encValue.MatchString(s) }

// Check walks root for Secrets and *.sops.yaml files and checks each.
// skip reports folders (relative to root) not to walk.
func Check(root string, skip func(rel string) bool) ([]diag.Finding, error) {
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if p != root && skip != nil && skip(rel) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml") {
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walking %q: %w", root, err)
	}
	var cfg *Config
	var out []diag.Finding
	for _, rel := range files {
		if rel == ConfigFile {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil {
			return nil, fmt.Errorf("reading %q: %w", rel, err)
		}
		for _, doc := range splitDocs(b) {
			var m map[string]any
			if yaml.Unmarshal(doc, &m) != nil || m == nil {
				continue
			}
			_, hasSops := m["sops"]
			isSecret := m["kind"] == "Secret" && m["apiVersion"] == "v1"
			if !hasSops && !isSecret && !strings.HasSuffix(rel, ".sops.yaml") {
				continue
			}
			if cfg == nil {
				c, err := LoadConfig(root)
				if err != nil {
					out = append(out, diag.Finding{File: ConfigFile, Rule: RuleCreation, Message: err.Error()})
					cfg = &Config{}
				} else {
					cfg = c
				}
			}
			out = append(out, CheckDocument(cfg, rel, m)...)
		}
	}
	return out, nil
}

func splitDocs(b []byte) [][]byte {
	var out [][]byte
	for _, d := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
		if strings.TrimSpace(d) != "" {
			out = append(out, []byte(d))
		}
	}
	return out
}

// CheckDocument checks one parsed document of file rel (relative to the
// folder of .sops.yaml).
func CheckDocument(cfg *Config, rel string, m map[string]any) []diag.Finding {
	var out []diag.Finding
	obj := objectName(m)
	add := func(field, rule, format string, args ...any) {
		out = append(out, diag.Finding{File: rel, Object: obj, Field: field, Rule: rule, Message: fmt.Sprintf(format, args...)})
	}
	meta, hasSops := m["sops"].(map[string]any)
	if !hasSops {
		add("sops", RuleEncrypted, "not encrypted: encrypt it in place with `sops --encrypt --in-place %s`", rel)
	}
	for _, section := range []string{"data", "stringData"} {
		vals, _ := m[section].(map[string]any)
		keys := make([]string, 0, len(vals))
		for k := range vals {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			s, ok := vals[k].(string)
			if !ok || !IsEncryptedValue(s) {
				// Never echo the value: it may be a secret.
				add(section+"."+k, RuleEncrypted, "plaintext value (want ENC[AES256_GCM,...])")
			}
		}
	}
	if !hasSops {
		return out
	}
	if mac, _ := meta["mac"].(string); !IsEncryptedValue(mac) {
		add("sops.mac", RuleMAC, "missing or not encrypted: the file is unauthenticated")
	}
	idx, rule, err := cfg.Match(rel)
	if err != nil {
		add("", RuleCreation, "%v", err)
		return out
	}
	if rule == nil {
		add("", RuleCreation, "matches no creation_rules path_regex in %s", ConfigFile)
		return out
	}
	var got []string
	ages, _ := meta["age"].([]any)
	for _, a := range ages {
		am, _ := a.(map[string]any)
		if r, _ := am["recipient"].(string); r != "" {
			got = append(got, r)
		}
		if enc, _ := am["enc"].(string); !strings.Contains(enc, "BEGIN AGE ENCRYPTED FILE") {
			add("sops.age", RuleRecipient, "a recipient has no age-encrypted data key")
		}
	}
	sort.Strings(got)
	want := rule.Recipients()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		add("sops.age", RuleRecipient, "encrypted for %v, but %s creation_rules[%d] (path_regex %q) names %v: run `sops updatekeys %s`",
			got, ConfigFile, idx, rule.PathRegex, want, rel)
	}
	if rule.EncryptedRegex != "" {
		if er, _ := meta["encrypted_regex"].(string); er != rule.EncryptedRegex {
			add("sops.encrypted_regex", RuleCreation, "%q differs from the rule's %q", er, rule.EncryptedRegex)
		}
	}
	return out
}

func objectName(m map[string]any) string {
	kind, _ := m["kind"].(string)
	md, _ := m["metadata"].(map[string]any)
	name, _ := md["name"].(string)
	if kind == "" && name == "" {
		return ""
	}
	return kind + "/" + name
}
