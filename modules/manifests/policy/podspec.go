package policy

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// workload is a rendered object that runs pods.
type workload struct {
	// path is the dotted field path of the pod template ("spec.template").
	path string
	// template is the pod template (for a bare Pod: its metadata and spec).
	template corev1.PodTemplateSpec
	// replicas is the declared replica count (1 when unset, 0 for run-once
	// kinds, which need no PDB).
	replicas int64
	// longRunning is true for kinds that serve until stopped (probes apply).
	longRunning bool
}

// templatePaths says where each workload kind keeps its pod template.
var templatePaths = map[string][]string{
	"Deployment":  {"spec", "template"},
	"StatefulSet": {"spec", "template"},
	"DaemonSet":   {"spec", "template"},
	"ReplicaSet":  {"spec", "template"},
	"Rollout":     {"spec", "template"},
	"Job":         {"spec", "template"},
	"CronJob":     {"spec", "jobTemplate", "spec", "template"},
}

// podWorkload extracts the pod template of a workload, or ok=false for
// kinds that run no pods (and Rollouts that reference a Deployment).
func podWorkload(u *unstructured.Unstructured) (w workload, ok bool, err error) {
	kind := u.GetKind()
	if kind == "Pod" {
		spec, _ := u.Object["spec"].(map[string]any)
		w.path = ""
		w.longRunning = true
		w.replicas = 1
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(spec, &w.template.Spec); err != nil {
			return w, false, fmt.Errorf("decoding pod spec: %w", err)
		}
		w.template.Labels = u.GetLabels()
		return w, true, nil
	}
	p, known := templatePaths[kind]
	if !known {
		return w, false, nil
	}
	raw, found, err := unstructured.NestedFieldNoCopy(u.Object, p...)
	if err != nil {
		return w, false, fmt.Errorf("reading %s: %w", dotted(p), err)
	}
	tmpl, isMap := raw.(map[string]any)
	if !found || !isMap {
		return w, false, nil
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(tmpl, &w.template); err != nil {
		return w, false, fmt.Errorf("decoding %s: %w", dotted(p), err)
	}
	w.path = dotted(p)
	switch kind {
	case "Job", "CronJob":
		w.replicas = 0
	case "DaemonSet":
		w.replicas = 1
		w.longRunning = true
	default:
		w.longRunning = true
		w.replicas = 1
		if r, found, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "replicas"); found {
			switch n := r.(type) {
			case int64:
				w.replicas = n
			case int:
				w.replicas = int64(n)
			case float64:
				w.replicas = int64(n)
			}
		}
	}
	return w, true, nil
}

func dotted(p []string) string {
	s := ""
	for i, e := range p {
		if i > 0 {
			s += "."
		}
		s += e
	}
	return s
}

// containerRef is one container with the field path that names it.
type containerRef struct {
	field string
	c     corev1.Container
	init  bool
}

func containers(w workload) []containerRef {
	prefix := "spec."
	if w.path != "" {
		prefix = w.path + ".spec."
	}
	var out []containerRef
	for _, c := range w.template.Spec.InitContainers {
		out = append(out, containerRef{field: fmt.Sprintf("%sinitContainers[name=%s]", prefix, c.Name), c: c, init: true})
	}
	for _, c := range w.template.Spec.Containers {
		out = append(out, containerRef{field: fmt.Sprintf("%scontainers[name=%s]", prefix, c.Name), c: c})
	}
	return out
}
