// Package infra checks the OpenTofu code without tofu or providers, with
// HashiCorp's HCL library: every file parses and is formatted as `tofu fmt`
// would write it, every module declares required_version, every provider
// is pinned to one exact version, module sources are local or pinned, and
// the k3s version default is a full, pinned k3s release.
package infra

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"github.com/ferry-ci/ferry/modules/manifests/diag"
)

// Rule names, as they appear in findings.
const (
	RuleSyntax   = "hcl-syntax"
	RuleFormat   = "hcl-fmt"
	RulePinned   = "tofu-pinned"
	RuleK3s      = "k3s-version"
	RuleRequired = "tofu-required-version"
	RuleLock     = "tofu-provider-lock"
)

// LockFile is the provider lock tofu init writes next to a root module.
const LockFile = ".terraform.lock.hcl"

// exactVersion is a provider constraint naming one release.
var exactVersion = regexp.MustCompile(`^=?\s*v?\d+\.\d+\.\d+$`)

// K3sVersion is the form of a pinned k3s release.
var K3sVersion = regexp.MustCompile(`^v1\.\d+\.\d+\+k3s\d+$`)

// Check walks dir (named prefix in findings) for .tf and .tftest.hcl files.
func Check(dir, prefix string) ([]diag.Finding, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".terraform") {
			return filepath.SkipDir
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".tf") || strings.HasSuffix(p, ".tftest.hcl") || strings.HasSuffix(p, ".tfvars")) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walking %q: %w", dir, err)
	}
	sort.Strings(files)
	var out []diag.Finding
	modules := map[string]bool{}
	hasVersion := map[string]bool{}
	pins := map[string]map[string]string{}
	for _, f := range files {
		rel, _ := filepath.Rel(dir, f)
		name := filepath.ToSlash(filepath.Join(prefix, rel))
		src, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading %q: %w", name, err)
		}
		fs, versionHere, filePins := checkFile(name, src)
		out = append(out, fs...)
		if strings.HasSuffix(f, ".tf") {
			modules[filepath.Dir(f)] = true
			for src, v := range filePins {
				if pins[filepath.Dir(f)] == nil {
					pins[filepath.Dir(f)] = map[string]string{}
				}
				pins[filepath.Dir(f)][src] = v
			}
			if versionHere {
				hasVersion[filepath.Dir(f)] = true
			}
		}
	}
	var mods []string
	for m := range modules {
		mods = append(mods, m)
	}
	sort.Strings(mods)
	for _, m := range mods {
		if !hasVersion[m] {
			rel, _ := filepath.Rel(dir, m)
			out = append(out, diag.Finding{File: filepath.ToSlash(filepath.Join(prefix, rel)), Field: "terraform.required_version", Rule: RuleRequired,
				Message: "missing: pin the tofu version the module was tested with"})
		}
		lf, err := checkLock(m, dir, prefix, pins[m])
		if err != nil {
			return nil, err
		}
		out = append(out, lf...)
	}
	return out, nil
}

// checkLock holds a module's provider lock, when there is one, to the
// exact versions the module pins. A missing lock is not a finding: the
// registry it needs is unreachable offline, so the first networked run
// writes it (deployments/infra/README.md).
func checkLock(module, dir, prefix string, pins map[string]string) ([]diag.Finding, error) {
	path := filepath.Join(module, LockFile)
	src, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	rel, _ := filepath.Rel(dir, path)
	name := filepath.ToSlash(filepath.Join(prefix, rel))
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", name, err)
	}
	var out []diag.Finding
	add := func(field, format string, args ...any) {
		out = append(out, diag.Finding{File: name, Field: field, Rule: RuleLock, Message: fmt.Sprintf(format, args...)})
	}
	f, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	if diags.HasErrors() {
		add("", "%s", diags.Error())
		return out, nil
	}
	locked := map[string]string{}
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		if b.Type != "provider" || len(b.Labels) != 1 {
			continue
		}
		field := fmt.Sprintf("provider[%q]", b.Labels[0])
		src := shortSource(b.Labels[0])
		ver := ""
		if a, ok := b.Body.Attributes["version"]; ok {
			if v, d := a.Expr.Value(nil); !d.HasErrors() && v.Type() == cty.String {
				ver = v.AsString()
			}
		}
		locked[src] = ver
		if a, ok := b.Body.Attributes["hashes"]; !ok {
			add(field+".hashes", "missing: run `tofu providers lock` with every platform you apply from")
		} else if v, d := a.Expr.Value(nil); d.HasErrors() || !v.CanIterateElements() || v.LengthInt() == 0 {
			add(field+".hashes", "empty: run `tofu providers lock` with every platform you apply from")
		}
		if want, ok := pins[src]; ok && ver != want {
			add(field+".version", "%q, but the module pins %q: run `tofu init -upgrade` and commit the lock", ver, want)
		}
	}
	var srcs []string
	for s := range pins {
		srcs = append(srcs, s)
	}
	sort.Strings(srcs)
	for _, s := range srcs {
		if _, ok := locked[s]; !ok {
			add(fmt.Sprintf("provider[%q]", s), "missing: run `tofu providers lock` and commit the lock")
		}
	}
	return out, nil
}

// shortSource reduces a provider address to namespace/type, lower case
// (registry.opentofu.org/hetznercloud/hcloud -> hetznercloud/hcloud).
func shortSource(s string) string {
	parts := strings.Split(strings.ToLower(s), "/")
	if len(parts) > 2 {
		parts = parts[len(parts)-2:]
	}
	return strings.Join(parts, "/")
}

// checkFile checks one file; it also reports whether the file sets
// required_version and the exact provider pins it declares (namespace/type
// to version).
func checkFile(name string, src []byte) ([]diag.Finding, bool, map[string]string) {
	var out []diag.Finding
	pins := map[string]string{}
	add := func(field, rule, format string, args ...any) {
		out = append(out, diag.Finding{File: name, Field: field, Rule: rule, Message: fmt.Sprintf(format, args...)})
	}
	f, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	if diags.HasErrors() {
		for _, d := range diags {
			add(fmt.Sprintf("line %d", d.Subject.Start.Line), RuleSyntax, "%s: %s", d.Summary, d.Detail)
		}
		return out, false, nil
	}
	if !bytes.Equal(hclwrite.Format(src), src) {
		add("", RuleFormat, "not formatted: run `tofu fmt`")
	}
	body, ok := f.Body.(*hclsyntax.Body)
	if !ok {
		return out, false, nil
	}
	versionHere := false
	for _, b := range body.Blocks {
		switch b.Type {
		case "terraform":
			if _, ok := b.Body.Attributes["required_version"]; ok {
				versionHere = true
			}
			for _, rp := range b.Body.Blocks {
				if rp.Type != "required_providers" {
					continue
				}
				for pname, attr := range rp.Body.Attributes {
					field := "terraform.required_providers." + pname
					v, d := attr.Expr.Value(nil)
					if d.HasErrors() || !v.Type().IsObjectType() {
						add(field, RulePinned, "must be an object with source and version")
						continue
					}
					if !v.Type().HasAttribute("source") {
						add(field+".source", RulePinned, "missing")
					}
					if !v.Type().HasAttribute("version") {
						add(field+".version", RulePinned, "missing: pin one exact provider version")
						continue
					}
					ver := v.GetAttr("version")
					if ver.Type() != cty.String || !exactVersion.MatchString(strings.TrimSpace(ver.AsString())) {
						add(field+".version", RulePinned, "%s: pin one exact version (\"= 1.2.3\")", ver.GoString())
					} else if v.Type().HasAttribute("source") && v.GetAttr("source").Type() == cty.String {
						exact := strings.TrimLeft(strings.TrimSpace(ver.AsString()), "= v")
						pins[shortSource(v.GetAttr("source").AsString())] = exact
					}
				}
			}
		case "module":
			if len(b.Labels) == 0 {
				continue
			}
			field := "module." + b.Labels[0] + ".source"
			attr, ok := b.Body.Attributes["source"]
			if !ok {
				add(field, RulePinned, "missing")
				continue
			}
			v, d := attr.Expr.Value(nil)
			if d.HasErrors() || v.Type() != cty.String {
				add(field, RulePinned, "must be a literal string")
				continue
			}
			s := v.AsString()
			local := strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../")
			_, hasVersion := b.Body.Attributes["version"]
			if !local && !strings.Contains(s, "?ref=") && !hasVersion {
				add(field, RulePinned, "%q: pin a remote module (?ref=<tag> or version =)", s)
			}
		case "variable":
			if len(b.Labels) == 0 || b.Labels[0] != "k3s_version" {
				continue
			}
			attr, ok := b.Body.Attributes["default"]
			if !ok {
				continue
			}
			v, d := attr.Expr.Value(nil)
			if d.HasErrors() || v.Type() != cty.String || !K3sVersion.MatchString(v.AsString()) {
				add("variable.k3s_version.default", RuleK3s, "must be a pinned k3s release like v1.33.4+k3s1")
			}
		}
	}
	return out, versionHere, pins
}
