package pipeline

import (
	"context"
	"strings"
	"testing"
)

// The repository's own services are the planning fixture: the catalog is
// theirs, so this test follows any change to them.
const repoRoot = "../.."

func TestPlanNamedServices(t *testing.T) {
	req := PlanRequest{Root: repoRoot, Services: []string{"scheduler-worker"}, Registry: "127.0.0.1:5000",
		Env: "staging", Commit: strings.Repeat("c", 40), Platforms: []string{"linux/amd64"}}
	first, err := Plan(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 1 {
		t.Fatalf("targets = %+v, want one", first)
	}
	tg := first[0]
	if tg.Repository.String() != "127.0.0.1:5000/scheduler-worker" {
		t.Errorf("repository = %s", tg.Repository)
	}
	wantTags := []string{"scheduler-worker-" + tg.Fingerprint, "staging-ccccccc-scheduler-worker"}
	if len(tg.Fingerprint) != 32 || strings.Join(tg.Tags, " ") != strings.Join(wantTags, " ") {
		t.Errorf("tags = %v (fingerprint %q), want %v", tg.Tags, tg.Fingerprint, wantTags)
	}
	again, err := Plan(context.Background(), req)
	if err != nil || again[0].Fingerprint != tg.Fingerprint {
		t.Errorf("second plan = %+v, %v; want the same fingerprint %s", again, err, tg.Fingerprint)
	}
	req.Platforms = []string{"linux/arm64"}
	other, err := Plan(context.Background(), req)
	if err != nil || other[0].Fingerprint == tg.Fingerprint {
		t.Errorf("plan for another platform = %+v, %v; want another fingerprint", other, err)
	}
}

func TestPlanBadRequest(t *testing.T) {
	for _, tc := range []struct {
		name    string
		req     PlanRequest
		wantErr string
	}{
		{name: "unknown service", req: PlanRequest{Root: repoRoot, Registry: "r.test", Services: []string{"nope"}}, wantErr: `unknown service "nope" (known: `},
		{name: "neither services nor since", req: PlanRequest{Root: repoRoot, Registry: "r.test"}, wantErr: "one of the two"},
		{name: "both services and since", req: PlanRequest{Root: repoRoot, Registry: "r.test", Services: []string{"x"}, Since: "HEAD~1"}, wantErr: "one of the two"},
		{name: "no registry", req: PlanRequest{Root: repoRoot, Services: []string{"x"}}, wantErr: "registry are required"},
		{name: "bad registry", req: PlanRequest{Root: repoRoot, Registry: "Bad Host", Services: []string{"scheduler-worker"}}, wantErr: `planning "scheduler-worker"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Plan(context.Background(), tc.req)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || Classify(err) != Terminal {
				t.Fatalf("err = %v, want terminal %q", err, tc.wantErr)
			}
		})
	}
}
