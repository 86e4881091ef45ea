// Package deploytree writes synthetic deployments trees for tests and
// benchmarks: n services, each a Deployment in base/, pinned by digest in
// the staging and production overlays.
package deploytree

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Write writes dir/deployments with services svc000..svc<n-1>.
func Write(dir string, n int) error {
	var res, imgs strings.Builder
	for i := range n {
		name := fmt.Sprintf("svc%03d", i)
		base := filepath.Join(dir, "deployments", "base", name)
		if err := os.MkdirAll(base, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(base, "kustomization.yaml"), []byte("resources:\n- deployment.yaml\n"), 0o644); err != nil {
			return err
		}
		dep := fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
spec:
  selector:
    matchLabels:
      app: %[1]s
  template:
    metadata:
      labels:
        app: %[1]s
    spec:
      containers:
      - name: %[1]s
        image: ghcr.io/acme/%[1]s:dev
`, name)
		if err := os.WriteFile(filepath.Join(base, "deployment.yaml"), []byte(dep), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(&res, "  - ../../base/%s\n", name)
		fmt.Fprintf(&imgs, "  # %s\n  - name: ghcr.io/acme/%s\n    newTag: staging-0-%s\n    digest: sha256:%064x\n", name, name, name, i)
	}
	for _, env := range []string{"staging", "production"} {
		o := filepath.Join(dir, "deployments", "overlays", env)
		if err := os.MkdirAll(o, 0o755); err != nil {
			return err
		}
		k := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: " + env + "\n\nresources:\n" + res.String() + "\nimages:\n" + imgs.String()
		if err := os.WriteFile(filepath.Join(o, "kustomization.yaml"), []byte(k), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Digest is the digest the benchmark promotes for service i in a round.
func Digest(round, i int) string { return fmt.Sprintf("sha256:%032x%032x", round+1, i) }

// Tag is the tag the benchmark promotes for service i in a round.
func Tag(round, i int) string { return fmt.Sprintf("staging-%d-svc%03d", round, i) }
