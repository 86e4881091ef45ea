package policy

import "k8s.io/apimachinery/pkg/runtime"

func convert(in map[string]any, out any) error {
	if in == nil {
		return nil
	}
	return runtime.DefaultUnstructuredConverter.FromUnstructured(in, out)
}
