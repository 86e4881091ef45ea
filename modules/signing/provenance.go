package signing

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Provenance are the pipeline facts an SLSA v1 provenance predicate is built
// from.
type Provenance struct {
	// BuilderID identifies the build platform, e.g.
	// https://github.com/ORG/REPO/.github/workflows/release.yml@refs/heads/main.
	BuilderID string
	// BuildType is a URI naming how the build ran, e.g.
	// https://github.com/ferry-ci/ferry/buildtypes/release/v1.
	BuildType string
	// SourceRepository is the source repository URI, e.g. https://github.com/ORG/REPO.
	SourceRepository string
	// Commit is the full git commit built.
	Commit string
	// Ref is the git ref built (optional), e.g. refs/heads/main.
	Ref string
	// Service is the service built (optional).
	Service string
	// Materials are further inputs: base images, modules, tools.
	Materials []Material
	// InvocationID identifies the run (optional), e.g. a workflow run URL.
	InvocationID string
	// StartedOn and FinishedOn bound the build (optional).
	StartedOn, FinishedOn time.Time
}

// Material is one resolved build input.
type Material struct {
	// URI names the input, e.g. pkg:golang/... or an image reference.
	URI string
	// Digest maps algorithm to hex digest, e.g. {"sha256": "..."}.
	Digest map[string]string
}

// Predicate renders the SLSA provenance v1 predicate
// (https://slsa.dev/spec/v1.0/provenance) as JSON.
func (p Provenance) Predicate() ([]byte, error) {
	switch {
	case p.BuilderID == "":
		return nil, errors.New("building provenance: no builder id")
	case p.BuildType == "":
		return nil, errors.New("building provenance: no build type")
	case p.SourceRepository == "":
		return nil, errors.New("building provenance: no source repository")
	case len(p.Commit) != 40 && len(p.Commit) != 64:
		return nil, fmt.Errorf("building provenance: commit %q is not a full hex object id", p.Commit)
	}
	type rd struct {
		URI    string            `json:"uri"`
		Digest map[string]string `json:"digest,omitempty"`
	}
	src := p.SourceRepository
	if p.Ref != "" {
		src += "@" + p.Ref
	}
	deps := []rd{{URI: "git+" + src, Digest: map[string]string{"gitCommit": p.Commit}}}
	for i, m := range p.Materials {
		if m.URI == "" {
			return nil, fmt.Errorf("building provenance: material %d has no uri", i)
		}
		deps = append(deps, rd(m))
	}
	ext := map[string]any{"source": map[string]string{"repository": p.SourceRepository, "ref": p.Ref, "commit": p.Commit}}
	if p.Service != "" {
		ext["service"] = p.Service
	}
	meta := map[string]string{}
	if p.InvocationID != "" {
		meta["invocationId"] = p.InvocationID
	}
	if !p.StartedOn.IsZero() {
		meta["startedOn"] = p.StartedOn.UTC().Format(time.RFC3339)
	}
	if !p.FinishedOn.IsZero() {
		meta["finishedOn"] = p.FinishedOn.UTC().Format(time.RFC3339)
	}
	run := map[string]any{"builder": map[string]string{"id": p.BuilderID}}
	if len(meta) > 0 {
		run["metadata"] = meta
	}
	pred := map[string]any{
		"buildDefinition": map[string]any{
			"buildType":            p.BuildType,
			"externalParameters":   ext,
			"resolvedDependencies": deps,
		},
		"runDetails": run,
	}
	b, err := json.Marshal(pred)
	if err != nil {
		return nil, fmt.Errorf("building provenance: %w", err)
	}
	return b, nil
}
