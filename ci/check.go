package main

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"dagger/ci/internal/dagger"
	"dagger/ci/internal/policy"
)

// Check is the pre-push validation; `dagger check` runs it: Lint and Test
// of every Go service under services/, and the native runner's check of
// the repository (ferry.yaml, every service.yaml, the deployments tree
// rendered and validated offline). It returns every failure, not only the
// first.
// +check
func (m *Ci) Check(ctx context.Context) error {
	// TODO(issue 6): only the services a change affects, and workflow lint.
	services, err := m.goServices(ctx)
	if err != nil {
		return err
	}
	if len(services) == 0 {
		return fmt.Errorf("checking: %w: no service with a go.mod under services/", policy.ErrInvalid)
	}
	// The engine runs the pipelines side by side; errors keep the service
	// order, the repository's check last.
	errs := make([]error, 2*len(services)+1)
	var wg sync.WaitGroup
	for i, s := range services {
		wg.Go(func() { _, errs[2*i] = m.Lint(ctx, s) })
		wg.Go(func() { _, errs[2*i+1] = m.Test(ctx, s) })
	}
	wg.Go(func() {
		// Cached by its inputs: the check reads only the source.
		if _, err := runNative(ctx, nativeRunner(m.Source), false, "check"); err != nil {
			errs[len(errs)-1] = fmt.Errorf("checking the repository: %w", err)
		}
	})
	wg.Wait()
	return errors.Join(errs...)
}

// goServices lists the folders under services/ that hold a go.mod, in the
// order the engine lists them.
func (m *Ci) goServices(ctx context.Context) ([]string, error) {
	entries, err := m.Source.Entries(ctx, dagger.DirectoryEntriesOpts{Path: "services"})
	if err != nil {
		return nil, fmt.Errorf("listing services: %w", err)
	}
	var out []string
	for _, e := range entries {
		name, ok := policy.ServiceFromEntry(e)
		if !ok {
			continue
		}
		has, err := m.Source.Exists(ctx, policy.ServiceDir(name)+"/go.mod")
		if err != nil {
			return nil, fmt.Errorf("looking for %q: %w", policy.ServiceDir(name)+"/go.mod", err)
		}
		if has {
			out = append(out, name)
		}
	}
	return out, nil
}
