package native

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ferry-ci/ferry/modules/pipeline"
)

// RepoConfigFile is the optional repository-level configuration, at the
// repository root.
const RepoConfigFile = "ferry.yaml"

// RepoConfig is what a repository declares about its own releases.
type RepoConfig struct {
	// AffectsAll are globs (repository-relative, ** for any depth) of files
	// whose change affects every service, e.g. go.work or the workflows.
	AffectsAll []string `yaml:"affectsAll"`
}

// LoadRepoConfig reads root/ferry.yaml; a missing file is the empty
// configuration. Unknown fields and bad globs are terminal errors naming
// the file and the field.
func LoadRepoConfig(root string) (RepoConfig, error) {
	var cfg RepoConfig
	b, err := os.ReadFile(filepath.Join(root, RepoConfigFile))
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return cfg, pipeline.MarkTerminal(fmt.Errorf("reading %s: %w", RepoConfigFile, err))
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return cfg, pipeline.MarkTerminal(fmt.Errorf("parsing %s: %w", RepoConfigFile, err))
	}
	for i, g := range cfg.AffectsAll {
		if g == "" || path.IsAbs(g) || g != path.Clean(g) || g == ".." || strings.HasPrefix(g, "../") {
			return cfg, pipeline.MarkTerminal(fmt.Errorf("%s: affectsAll[%d]: %q must be a clean repository-relative glob", RepoConfigFile, i, g))
		}
		if _, err := path.Match(g, ""); err != nil {
			return cfg, pipeline.MarkTerminal(fmt.Errorf("%s: affectsAll[%d]: %q: %w", RepoConfigFile, i, g, err))
		}
	}
	return cfg, nil
}
