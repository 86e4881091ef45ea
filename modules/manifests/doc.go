// Package manifests validates the deployments tree offline, with the
// libraries Kubernetes and Argo CD themselves use: kustomize's krusty
// renders every overlay; client-go's schema checks built-in objects and
// k8s.io/apiextensions-apiserver checks custom resources against CRDs
// copied from their projects (see crds/); Go policies hold every
// environment to digests, probes, resources, non-root, PDBs and protected
// volumes; Argo CD Applications are held to their AppProjects; SOPS files,
// the Compose bridge and the OpenTofu code are checked too.
//
// Check is the entry point (the release pipeline's check calls it); the
// packages below it do one check each. compose/podmanup is not a check: it
// runs the Compose bridge with podman for the bridge's deploy test, which
// builds its images locally (internal/localimage).
package manifests
