package native

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/ferry-ci/ferry/modules/contract"
	"github.com/ferry-ci/ferry/modules/manifests"
	"github.com/ferry-ci/ferry/modules/pipeline"
)

// CheckReport is the outcome of the pre-push validation.
type CheckReport struct {
	// Services are the services whose service.yaml validated.
	Services []string `json:"services"`
	// Rendered counts the objects rendered per deployments folder.
	Rendered map[string]int `json:"rendered"`
	// Findings are the violations, each naming its file and field; empty
	// means the repository passed.
	Findings []string `json:"findings"`
}

// Check is the pre-push validation that needs no registry, key or forge:
// the repository's configuration (ferry.yaml), every service's contract
// (service.yaml) and the deployments tree validated offline (rendered
// overlays against the Kubernetes schemas and the vendored CRDs, the
// policies, Argo CD projects, SOPS files, the Compose bridge, OpenTofu).
// Violations are findings, not errors; an error means the check could not
// run.
func Check(ctx context.Context, root string) (*CheckReport, error) {
	rep := &CheckReport{Rendered: map[string]int{}}
	if _, err := LoadRepoConfig(root); err != nil {
		rep.Findings = append(rep.Findings, err.Error())
	}
	cat, err := contract.Discover(root)
	if err != nil {
		rep.Findings = append(rep.Findings, err.Error())
	}
	if cat != nil {
		for _, s := range cat.Services {
			rep.Services = append(rep.Services, s.Name)
		}
	}
	m, err := manifests.Check(ctx, filepath.Join(root, "deployments"),
		manifests.WithCRDDir(filepath.Join(root, "modules", "manifests", "crds")))
	if err != nil {
		return nil, pipeline.MarkTerminal(fmt.Errorf("checking %s: %w", filepath.Join(root, "deployments"), err))
	}
	for dir, n := range m.Rendered {
		rep.Rendered[dir] = n
	}
	for _, f := range m.Findings {
		rep.Findings = append(rep.Findings, f.String())
	}
	return rep, nil
}
