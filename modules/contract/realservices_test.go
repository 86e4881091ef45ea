package contract

import (
	"os"
	"testing"
)

// TestRealServices loads the repository's own services through the
// catalog, so a service.yaml that breaks the contract fails here.
func TestRealServices(t *testing.T) {
	const root = "../.."
	if _, err := os.Stat(root + "/services/scheduler-worker/service.yaml"); err != nil {
		t.Skip("services/scheduler-worker/service.yaml does not exist yet")
	}
	if _, err := os.Stat(root + "/" + ManifestRoot); err != nil {
		// The services name their base manifests there; until that tree
		// lands every service would fail on deploy.manifest.
		t.Skip(ManifestRoot + " does not exist yet")
	}
	cat, err := Discover(root)
	if err != nil {
		t.Fatalf("Discover(%s): %v", root, err)
	}
	svc, ok := cat.Service("scheduler-worker")
	if !ok {
		t.Fatalf("scheduler-worker missing from %v", cat.Names())
	}
	if svc.Kind != KindWorker {
		t.Errorf("scheduler-worker kind = %q, want worker", svc.Kind)
	}
	if svc.Health.Port != 9000 {
		t.Errorf("scheduler-worker health port = %d, want 9000", svc.Health.Port)
	}
}
