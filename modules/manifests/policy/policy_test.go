package policy_test

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/ferry-ci/ferry/modules/manifests/diag"
	"github.com/ferry-ci/ferry/modules/manifests/policy"
	"github.com/ferry-ci/ferry/modules/manifests/render"
)

const digest = "sha256:07c346c1b0418952773dc6c4b1a7ed36a7d2e4152e606b5b0e778b42d04c8f0a"

// good is a Deployment that keeps every rule; each case below breaks one.
const good = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: app, namespace: env}
spec:
  replicas: REPLICAS
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      securityContext: {runAsNonRoot: true}
      containers:
        - name: app
          image: IMAGE
          livenessProbe: {httpGet: {path: /livez, port: 9000}}
          readinessProbe: {httpGet: {path: /readyz, port: 9000}}
          resources:
            requests: {cpu: 10m, memory: 16Mi}
            limits: {memory: 32Mi}
          securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true}
`

const pdb = `
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: app, namespace: env}
spec:
  maxUnavailable: 1
  selector: {matchLabels: {app: app}}
`

func objects(t *testing.T, docs ...string) []render.Object {
	t.Helper()
	var out []render.Object
	for _, d := range docs {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(d), &m); err != nil {
			t.Fatalf("fixture: %v", err)
		}
		out = append(out, render.Object{File: "fixture.yaml", Obj: &unstructured.Unstructured{Object: m}})
	}
	return out
}

func deployment(image, replicas string, edits ...[2]string) string {
	d := strings.NewReplacer("IMAGE", image, "REPLICAS", replicas).Replace(good)
	for _, e := range edits {
		if !strings.Contains(d, e[0]) {
			panic("fixture edit does not apply: " + e[0])
		}
		d = strings.Replace(d, e[0], e[1], 1)
	}
	return d
}

func TestCheck(t *testing.T) {
	pinned := "ghcr.io/ferry-ci/app@" + digest
	tests := []struct {
		name  string
		docs  []string
		rule  string
		field string
	}{
		{name: "good", docs: []string{deployment(pinned, "1")}},
		{name: "good with two replicas and a PDB", docs: []string{deployment(pinned, "2"), pdb}},
		{name: "tag only", docs: []string{deployment("ghcr.io/ferry-ci/app:1.2.3", "1")}, rule: policy.RuleImageDigest, field: "spec.template.spec.containers[name=app].image"},
		{name: "latest", docs: []string{deployment("ghcr.io/ferry-ci/app:latest", "1")}, rule: policy.RuleImageDigest, field: "containers[name=app].image"},
		{name: "latest beside a digest", docs: []string{deployment("ghcr.io/ferry-ci/app:latest@"+digest, "1")}, rule: policy.RuleImageDigest},
		{name: "short digest", docs: []string{deployment("ghcr.io/ferry-ci/app@sha256:abc", "1")}, rule: policy.RuleImageDigest},
		{name: "bare name", docs: []string{deployment("app", "1")}, rule: policy.RuleImageDigest},
		{name: "no liveness probe", docs: []string{deployment(pinned, "1", [2]string{"livenessProbe: {httpGet: {path: /livez, port: 9000}}", "ports: [{containerPort: 9000}]"})}, rule: policy.RuleProbes, field: "livenessProbe"},
		{name: "no readiness probe", docs: []string{deployment(pinned, "1", [2]string{"readinessProbe: {httpGet: {path: /readyz, port: 9000}}", "ports: [{containerPort: 9000}]"})}, rule: policy.RuleProbes, field: "readinessProbe"},
		{name: "no cpu request", docs: []string{deployment(pinned, "1", [2]string{"cpu: 10m, ", ""})}, rule: policy.RuleResources, field: "resources.requests.cpu"},
		{name: "no memory limit", docs: []string{deployment(pinned, "1", [2]string{"limits: {memory: 32Mi}", "limits: {}"})}, rule: policy.RuleResources, field: "resources.limits.memory"},
		{name: "root allowed", docs: []string{deployment(pinned, "1", [2]string{"securityContext: {runAsNonRoot: true}", "securityContext: {}"})}, rule: policy.RuleNonRoot, field: "securityContext.runAsNonRoot"},
		{name: "container overrides to root", docs: []string{deployment(pinned, "1", [2]string{"allowPrivilegeEscalation: false,", "runAsNonRoot: false, allowPrivilegeEscalation: false,"})}, rule: policy.RuleNonRoot},
		{name: "privilege escalation", docs: []string{deployment(pinned, "1", [2]string{"allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true"})}, rule: policy.RuleHardened, field: "allowPrivilegeEscalation"},
		{name: "writable root", docs: []string{deployment(pinned, "1", [2]string{"readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false"})}, rule: policy.RuleHardened, field: "readOnlyRootFilesystem"},
		{name: "two replicas without PDB", docs: []string{deployment(pinned, "2")}, rule: policy.RulePDB, field: "spec.replicas"},
		{name: "PDB in another namespace", docs: []string{deployment(pinned, "2"), strings.Replace(pdb, "namespace: env", "namespace: other", 1)}, rule: policy.RulePDB},
		{name: "PDB selecting other pods", docs: []string{deployment(pinned, "3"), strings.Replace(pdb, "{app: app}", "{app: other}", 1)}, rule: policy.RulePDB},
		{name: "PVC without protection", docs: []string{`
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: env, annotations: {argocd.argoproj.io/sync-options: Prune=false}}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
`}, rule: policy.RulePVCProtect, field: "metadata.annotations[argocd.argoproj.io/sync-options]"},
		{name: "volume claim template without protection", docs: []string{`
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: env}
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      securityContext: {runAsNonRoot: true}
      containers:
        - name: db
          image: ` + pinned + `
          livenessProbe: {exec: {command: [true]}}
          readinessProbe: {exec: {command: [true]}}
          resources: {requests: {cpu: 10m, memory: 16Mi}, limits: {memory: 32Mi}}
          securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true}
  volumeClaimTemplates:
    - metadata: {name: data}
      spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
`}, rule: policy.RulePVCProtect, field: "spec.volumeClaimTemplates[name=data]"},
		{name: "cronjob tag only", docs: []string{`
apiVersion: batch/v1
kind: CronJob
metadata: {name: backup, namespace: env}
spec:
  schedule: "@daily"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          securityContext: {runAsNonRoot: true}
          containers:
            - name: dump
              image: postgres:17
              resources: {requests: {cpu: 10m, memory: 16Mi}, limits: {memory: 32Mi}}
              securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true}
`}, rule: policy.RuleImageDigest, field: "spec.jobTemplate.spec.template.spec.containers[name=dump].image"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := policy.Check(objects(t, tt.docs...))
			if tt.rule == "" {
				if len(got) > 0 {
					t.Fatalf("want no findings, got:\n%v", diag.List(got).Error())
				}
				return
			}
			for _, f := range got {
				if f.Rule == tt.rule && strings.Contains(f.Field, tt.field) && f.File == "fixture.yaml" && f.Object != "" {
					return
				}
			}
			t.Fatalf("want a %s finding on %q, got:\n%v", tt.rule, tt.field, diag.List(got).Error())
		})
	}
}

func TestImageUnpinned(t *testing.T) {
	tests := []struct {
		name, image string
		ok          bool
	}{
		{name: "digest", image: "ghcr.io/ferry-ci/app@" + digest, ok: true},
		{name: "tag and digest", image: "ghcr.io/ferry-ci/app:v1@" + digest, ok: true},
		{name: "port in registry", image: "localhost:5000/app@" + digest, ok: true},
		{name: "registry port and tag", image: "localhost:5000/app:v1"},
		{name: "latest with digest", image: "ghcr.io/ferry-ci/app:latest@" + digest},
		{name: "uppercase digest", image: "ghcr.io/ferry-ci/app@" + strings.ToUpper(digest)},
		{name: "empty", image: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := policy.ImageUnpinned(tt.image)
			if (msg == "") != tt.ok {
				t.Fatalf("ImageUnpinned(%q) = %q, want ok=%v", tt.image, msg, tt.ok)
			}
		})
	}
}
