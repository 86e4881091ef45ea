package manifests_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ferry-ci/ferry/modules/manifests"
	"github.com/ferry-ci/ferry/modules/manifests/render"
)

// deployments is the tree these tests validate.
const deployments = "../../deployments"

func TestCheckDeploymentsTree(t *testing.T) {
	rep, err := manifests.Check(context.Background(), deployments)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) > 0 {
		t.Fatalf("the deployments tree breaks rules:\n%v", rep.Findings.Error())
	}
	for _, dir := range []string{"overlays/staging", "overlays/production", "overlays/production+components/canary", "argocd", "policies"} {
		if dir == "policies" {
			if _, err := os.Stat(filepath.Join(deployments, "policies")); err != nil {
				continue
			}
		}
		if rep.Rendered[dir] == 0 {
			t.Errorf("%s rendered no objects (rendered: %v)", dir, rep.Rendered)
		}
	}
	// Each kind below must have reached its validator, so a silently
	// skipped check cannot pass.
	kinds := []string{
		"schema:Deployment", "schema:StatefulSet", "schema:Job", "schema:CronJob", "schema:Secret",
		"schema:PodDisruptionBudget", "schema:NetworkPolicy", "schema:PersistentVolumeClaim",
		"crd:Application", "crd:ApplicationSet", "crd:AppProject", "crd:Rollout", "crd:AnalysisTemplate",
		"argocd:ApplicationSet", "argocd:AppProject", "argocd:Application", "compose", "infra",
	}
	if _, err := os.Stat(filepath.Join(deployments, "policies")); err == nil {
		kinds = append(kinds, "crd:ClusterImagePolicy", "crd:ClusterPolicy")
	}
	for _, k := range kinds {
		if rep.Checked[k] == 0 {
			keys := make([]string, 0, len(rep.Checked))
			for k := range rep.Checked {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			t.Errorf("nothing checked for %s (checked: %v)", k, keys)
		}
	}
}

// The overlays pin each image once; IMAGE_DIGEST must follow it so
// /version reports what runs.
func TestImageDigestFollowsPinnedImage(t *testing.T) {
	for _, env := range []string{"staging", "production"} {
		t.Run(env, func(t *testing.T) {
			objs, err := render.Build(deployments, "overlays/"+env)
			if err != nil {
				t.Fatal(err)
			}
			seen := 0
			for _, o := range objs {
				k := o.Obj.GetKind()
				if k != "Deployment" && k != "Job" {
					continue
				}
				cs, _, _ := unstructuredSlice(o.Obj.Object, "spec", "template", "spec", "containers")
				for _, c := range cs {
					image, _ := c["image"].(string)
					_, digest, ok := strings.Cut(image, "@")
					if !ok {
						t.Fatalf("%s: image %q not pinned", o.ID(), image)
					}
					envs, _ := c["env"].([]any)
					for _, e := range envs {
						em, _ := e.(map[string]any)
						if em["name"] == "IMAGE_DIGEST" {
							seen++
							if em["value"] != digest {
								t.Errorf("%s: IMAGE_DIGEST = %v, image digest %s", o.ID(), em["value"], digest)
							}
						}
					}
				}
			}
			if seen != 2 {
				t.Errorf("IMAGE_DIGEST found %d times, want 2 (scheduler-worker, migrator)", seen)
			}
		})
	}
}

func unstructuredSlice(obj map[string]any, path ...string) ([]map[string]any, bool, error) {
	cur := any(obj)
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false, nil
		}
		cur = m[p]
	}
	list, _ := cur.([]any)
	var out []map[string]any
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out, len(out) > 0, nil
}

// TestBadInputCorpus walks testdata/bad: each folder is a small deployments
// tree that breaks one rule, and want.txt lists text the findings must
// contain (one line each: typically the file, the field and the rule).
func TestBadInputCorpus(t *testing.T) {
	cases, err := filepath.Glob("testdata/bad/*")
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < 4 {
		t.Fatalf("corpus has %d cases, want at least 4", len(cases))
	}
	for _, dir := range cases {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join(dir, "want.txt"))
			if err != nil {
				t.Fatal(err)
			}
			rep, err := manifests.Check(context.Background(), filepath.Join(dir, "tree"))
			if err != nil {
				t.Fatal(err)
			}
			got := rep.Findings.Error()
			if len(rep.Findings) == 0 {
				t.Fatal("no findings")
			}
			for _, line := range strings.Split(strings.TrimSpace(string(want)), "\n") {
				if line = strings.TrimSpace(line); line != "" && !strings.Contains(got, line) {
					t.Errorf("findings lack %q; got:\n%s", line, got)
				}
			}
		})
	}
}
