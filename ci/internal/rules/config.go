package rules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/version"
	"path"
	"sort"
	"strings"

	"golang.org/x/mod/modfile"
)

// EngineVersion is the Dagger engine the module is pinned to; the CLI in CI
// and dagger.io/dagger in go.mod must match it.
const EngineVersion = "v0.21.9"

// MaxGo is the newest go line the engine's codegen accepts (its Go is
// 1.26, and dagger.io/dagger v0.21.9 declares go 1.26.1).
const MaxGo = "1.26.1"

// Config is the part of dagger.json the checks read.
type Config struct {
	Name          string
	EngineVersion string
	SDK           string
	Source        string
	Include       []string
}

var knownConfigKeys = []string{
	"$schema", "name", "engineVersion", "sdk", "source", "include", "exclude", "codegen",
	"dependencies", "toolchains", "blueprint", "clients", "disableDefaultFunctionCaching",
}

// CheckDaggerJSON checks a dagger.json for a Go module named name, pinned to
// EngineVersion, whose source folder is source.
func CheckDaggerJSON(data []byte, name, source string) (Config, []Finding) {
	var fs []Finding
	bad := func(format string, args ...any) {
		fs = append(fs, Finding{Pos: "dagger.json", Message: fmt.Sprintf(format, args...)})
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		bad("parsing: %v", err)
		return Config{}, fs
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !contains(knownConfigKeys, k) {
			bad("unknown key %q", k)
		}
	}
	if _, ok := raw["exclude"]; ok {
		bad(`"exclude" is deprecated: write "!pattern" entries in "include"`)
	}
	var cfg Config
	str := func(key string, into *string) {
		if v, ok := raw[key]; ok {
			if err := json.Unmarshal(v, into); err != nil {
				bad("%s must be a string", key)
			}
		}
	}
	str("name", &cfg.Name)
	str("engineVersion", &cfg.EngineVersion)
	str("source", &cfg.Source)
	if v, ok := raw["include"]; ok {
		if err := json.Unmarshal(v, &cfg.Include); err != nil {
			bad("include must be a list of strings")
		}
	}
	if v, ok := raw["sdk"]; ok {
		var sdk struct {
			Source string                     `json:"source"`
			Config map[string]json.RawMessage `json:"config"`
		}
		if err := json.Unmarshal(v, &cfg.SDK); err != nil {
			dec := json.NewDecoder(bytes.NewReader(v))
			if err := dec.Decode(&sdk); err != nil {
				bad("sdk must be a string or {\"source\": ...}")
			}
			cfg.SDK = sdk.Source
			for k := range sdk.Config {
				if k != "goprivate" {
					bad("sdk.config key %q is unknown to the Go SDK (only goprivate)", k)
				}
			}
		}
	}
	if cfg.Name != name {
		bad("name is %q, want %q", cfg.Name, name)
	}
	if cfg.EngineVersion != EngineVersion {
		bad("engineVersion is %q, want %q (pinned, never latest)", cfg.EngineVersion, EngineVersion)
	}
	if cfg.SDK != "go" {
		bad("sdk source is %q, want \"go\"", cfg.SDK)
	}
	if cfg.Source != source {
		bad("source is %q, want %q", cfg.Source, source)
	}
	for _, x := range []string{"!go.work", "!go.work.sum"} {
		if !contains(cfg.Include, x) {
			bad("include lacks %q: an uploaded go.work breaks the module's build", x)
		}
	}
	return cfg, fs
}

// CheckGoMod checks the module's go.mod (at source/go.mod beside dagger.json)
// against dagger.json: module path dagger/<name>, a go line the engine
// accepts, no toolchain line, dagger.io/dagger at the engine's version, and
// local replace targets inside what dagger.json uploads.
func CheckGoMod(data []byte, cfg Config) []Finding {
	var fs []Finding
	file := path.Join(cfg.Source, "go.mod")
	bad := func(format string, args ...any) {
		fs = append(fs, Finding{Pos: file, Message: fmt.Sprintf(format, args...)})
	}
	f, err := modfile.Parse(file, data, nil)
	if err != nil {
		bad("parsing: %v", err)
		return fs
	}
	if want := "dagger/" + cfg.Name; f.Module == nil || f.Module.Mod.Path != want {
		bad("module path must be %q, as dagger init writes it", want)
	}
	switch {
	case f.Go == nil:
		bad("no go line")
	case version.Compare("go"+f.Go.Version, "go"+MaxGo) > 0:
		bad("go %s is newer than the engine supports (at most %s)", f.Go.Version, MaxGo)
	}
	if f.Toolchain != nil {
		bad("toolchain %s: the engine builds with its own Go; drop the line", f.Toolchain.Name)
	}
	found := false
	for _, r := range f.Require {
		if r.Mod.Path == "dagger.io/dagger" {
			found = true
			if r.Mod.Version != EngineVersion {
				bad("dagger.io/dagger %s, want %s (the engine's version)", r.Mod.Version, EngineVersion)
			}
		}
	}
	if !found {
		bad("no requirement on dagger.io/dagger %s (the stand-ins alias it)", EngineVersion)
	}
	for _, r := range f.Replace {
		if !modfile.IsDirectoryPath(r.New.Path) {
			continue
		}
		target := path.Clean(path.Join(cfg.Source, r.New.Path))
		if !included(target, cfg.Include) {
			bad("replace %s => %s: %s is not in dagger.json's include, so the engine never uploads it", r.Old.Path, r.New.Path, target)
		}
	}
	return fs
}

// included reports whether a folder falls under an include pattern of the
// "dir/**" kind.
func included(dir string, include []string) bool {
	for _, p := range include {
		prefix, ok := strings.CutSuffix(p, "/**")
		if ok && !strings.HasPrefix(p, "!") && (dir == prefix || strings.HasPrefix(dir, prefix+"/")) {
			return true
		}
	}
	return false
}
