package main

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"dagger/ci/internal/dagger"
	"dagger/ci/internal/policy"
)

// Check lints and tests every Go service under services/; `dagger check`
// runs it. It returns every failure, not only the first.
// +check
func (m *Ci) Check(ctx context.Context) error {
	// TODO(issue 6): the affected services only, contract and deployments
	// validation and workflow lint, through modules/pipeline's Check.
	services, err := m.goServices(ctx)
	if err != nil {
		return err
	}
	if len(services) == 0 {
		return fmt.Errorf("checking: %w: no service with a go.mod under services/", policy.ErrInvalid)
	}
	// The engine runs the pipelines side by side; errors keep the service order.
	errs := make([]error, 2*len(services))
	var wg sync.WaitGroup
	for i, s := range services {
		wg.Go(func() { _, errs[2*i] = m.Lint(ctx, s) })
		wg.Go(func() { _, errs[2*i+1] = m.Test(ctx, s) })
	}
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
