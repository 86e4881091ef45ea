// Package policy holds the deployment rules every rendered environment must
// keep, as Go over the rendered objects: images pinned by digest, probes,
// resources, non-root and hardened containers, a PodDisruptionBudget for
// every multi-replica workload, and persistent volumes Argo CD never prunes
// or deletes. Each rule has a failing fixture in the tests.
package policy

import (
	"fmt"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/ferry-ci/ferry/modules/manifests/diag"
	"github.com/ferry-ci/ferry/modules/manifests/render"
)

// Rule names, as they appear in findings.
const (
	RuleImageDigest = "image-digest"
	RuleProbes      = "probes"
	RuleResources   = "resources"
	RuleNonRoot     = "run-as-non-root"
	RuleHardened    = "hardened-container"
	RulePDB         = "pdb"
	RulePVCProtect  = "pvc-protected"
)

// SyncOptionsAnnotation is Argo CD's per-resource sync options annotation.
const SyncOptionsAnnotation = "argocd.argoproj.io/sync-options"

// Check applies every rule to one rendered environment.
func Check(objs []render.Object) []diag.Finding {
	var out []diag.Finding
	for _, o := range objs {
		out = append(out, checkObject(o)...)
	}
	out = append(out, checkPDBs(objs)...)
	return out
}

func checkObject(o render.Object) []diag.Finding {
	u := o.Obj
	id := o.ID()
	var out []diag.Finding
	add := func(field, rule, format string, args ...any) {
		out = append(out, diag.Finding{File: o.File, Object: id, Field: field, Rule: rule, Message: fmt.Sprintf(format, args...)})
	}
	if u.GetKind() == "PersistentVolumeClaim" {
		if msg := pvcUnprotected(u.GetAnnotations()); msg != "" {
			add("metadata.annotations["+SyncOptionsAnnotation+"]", RulePVCProtect, "%s", msg)
		}
	}
	if u.GetKind() == "StatefulSet" {
		vraw, _, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "volumeClaimTemplates")
		vcts, _ := vraw.([]any)
		for _, v := range vcts {
			m, _ := v.(map[string]any)
			meta := &unstructured.Unstructured{Object: m}
			if msg := pvcUnprotected(meta.GetAnnotations()); msg != "" {
				add(fmt.Sprintf("spec.volumeClaimTemplates[name=%s].metadata.annotations[%s]", meta.GetName(), SyncOptionsAnnotation), RulePVCProtect, "%s", msg)
			}
		}
	}
	w, ok, err := podWorkload(u)
	if err != nil {
		add("", RuleImageDigest, "%v", err)
		return out
	}
	if !ok {
		return out
	}
	podSC := w.template.Spec.SecurityContext
	podNonRoot := podSC != nil && podSC.RunAsNonRoot != nil && *podSC.RunAsNonRoot
	for _, cr := range containers(w) {
		c := cr.c
		if msg := imageUnpinned(c.Image); msg != "" {
			add(cr.field+".image", RuleImageDigest, "%s", msg)
		}
		if w.longRunning && !cr.init {
			if c.LivenessProbe == nil {
				add(cr.field+".livenessProbe", RuleProbes, "missing: a long-running container needs a liveness probe")
			}
			if c.ReadinessProbe == nil {
				add(cr.field+".readinessProbe", RuleProbes, "missing: a long-running container needs a readiness probe")
			}
		}
		req := c.Resources.Requests
		if _, ok := req[corev1.ResourceCPU]; !ok {
			add(cr.field+".resources.requests.cpu", RuleResources, "missing: set a CPU request")
		}
		if _, ok := req[corev1.ResourceMemory]; !ok {
			add(cr.field+".resources.requests.memory", RuleResources, "missing: set a memory request")
		}
		if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
			add(cr.field+".resources.limits.memory", RuleResources, "missing: set a memory limit")
		}
		sc := c.SecurityContext
		containerNonRoot := sc != nil && sc.RunAsNonRoot != nil && *sc.RunAsNonRoot
		containerRoot := sc != nil && sc.RunAsNonRoot != nil && !*sc.RunAsNonRoot
		if (!podNonRoot && !containerNonRoot) || containerRoot {
			add(cr.field+".securityContext.runAsNonRoot", RuleNonRoot, "must be true (here or in the pod's securityContext)")
		}
		if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			add(cr.field+".securityContext.allowPrivilegeEscalation", RuleHardened, "must be false")
		}
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			add(cr.field+".securityContext.readOnlyRootFilesystem", RuleHardened, "must be true")
		}
		if sc != nil && sc.Privileged != nil && *sc.Privileged {
			add(cr.field+".securityContext.privileged", RuleHardened, "must not be true")
		}
	}
	return out
}

// imageUnpinned explains why an image reference is not an immutable
// digest reference, or returns "".
func imageUnpinned(image string) string {
	if image == "" {
		return "missing"
	}
	repo, tag, hasDigest := image, "", false
	if i := strings.Index(image, "@"); i >= 0 {
		repo, hasDigest = image[:i], true
	}
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		tag = repo[i+1:]
	}
	if tag == "latest" {
		return fmt.Sprintf("%q uses the tag latest; pin a digest (repo@sha256:<64 hex>)", image)
	}
	if !hasDigest {
		return fmt.Sprintf("%q is not pinned by digest; add an images: entry with digest: sha256:<64 hex> in the overlay", image)
	}
	if _, err := name.NewDigest(image, name.StrictValidation); err != nil {
		return fmt.Sprintf("%q is not a valid digest reference: %v", image, err)
	}
	return ""
}

// ImageUnpinned is the digest rule for one reference: "" when image is a
// full, valid repo@sha256:<64 hex> reference not tagged latest, otherwise
// why not. The compose checks share it.
func ImageUnpinned(image string) string { return imageUnpinned(image) }

func pvcUnprotected(ann map[string]string) string {
	opts := map[string]bool{}
	for _, o := range strings.Split(ann[SyncOptionsAnnotation], ",") {
		opts[strings.TrimSpace(o)] = true
	}
	var missing []string
	for _, want := range []string{"Prune=false", "Delete=false"} {
		if !opts[want] {
			missing = append(missing, want)
		}
	}
	if len(missing) == 0 {
		return ""
	}
	return fmt.Sprintf("missing %s: Argo CD could prune or delete the volume and its data", strings.Join(missing, ","))
}

// checkPDBs requires a PodDisruptionBudget selecting the pods of every
// workload with more than one replica, in the same namespace.
func checkPDBs(objs []render.Object) []diag.Finding {
	type pdb struct {
		ns  string
		sel labels.Selector
	}
	var pdbs []pdb
	for _, o := range objs {
		if o.Obj.GetKind() != "PodDisruptionBudget" {
			continue
		}
		sraw, _, _ := unstructured.NestedFieldNoCopy(o.Obj.Object, "spec", "selector")
		raw, _ := sraw.(map[string]any)
		var ls metav1.LabelSelector
		if err := convert(raw, &ls); err != nil {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(&ls)
		if err != nil || sel.Empty() {
			continue
		}
		pdbs = append(pdbs, pdb{ns: o.Obj.GetNamespace(), sel: sel})
	}
	var out []diag.Finding
	for _, o := range objs {
		w, ok, err := podWorkload(o.Obj)
		if err != nil || !ok || w.replicas < 2 {
			continue
		}
		podLabels := labels.Set(w.template.Labels)
		covered := false
		for _, p := range pdbs {
			if p.ns == o.Obj.GetNamespace() && p.sel.Matches(podLabels) {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, diag.Finding{File: o.File, Object: o.ID(), Field: "spec.replicas", Rule: RulePDB,
				Message: fmt.Sprintf("%d replicas but no PodDisruptionBudget selects pods labelled %s", w.replicas, podLabels)})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Object < out[j].Object })
	return out
}
