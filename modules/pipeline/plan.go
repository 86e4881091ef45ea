package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ferry-ci/ferry/modules/contract"
	"github.com/ferry-ci/ferry/modules/oci"
	"github.com/ferry-ci/ferry/modules/oci/fingerprint"
)

// PlanRequest says which services to release and where their images go.
type PlanRequest struct {
	// Root is the repository root on disk. Required.
	Root string
	// Services names the services to release. Either Services or Since.
	Services []string
	// Since releases every service a change from this revision to HEAD
	// affects (contract.Affected). Either Services or Since.
	Since string
	// AffectsAll are globs whose change affects every service (with Since).
	AffectsAll []string
	// Registry is the registry and namespace images go under, such as
	// "ghcr.io/ferry-ci" or "127.0.0.1:5000"; each service's image name is
	// appended. Required.
	Registry string
	// Env, with Commit, adds the tag {env}-{sha}-{service}. Optional.
	Env string
	// Commit is the source commit; CommitTime its time. Optional.
	Commit     string
	CommitTime time.Time
	// GoVersion is the toolchain that builds (default runtime.Version()).
	GoVersion string
	// Platforms are the target platforms (default linux/GOARCH of the host).
	Platforms []string
}

// Plan resolves a request into release targets, sorted by name: each
// service's contract, image repository, fingerprint and tags. An unknown
// service is a terminal error naming the known ones.
func Plan(ctx context.Context, req PlanRequest) ([]Target, error) {
	if req.Root == "" || req.Registry == "" {
		return nil, MarkTerminal(errors.New("planning: the repository root and the registry are required"))
	}
	if (len(req.Services) == 0) == (req.Since == "") {
		return nil, MarkTerminal(errors.New("planning: name services or a base revision (since), one of the two"))
	}
	if req.GoVersion == "" {
		req.GoVersion = runtime.Version()
	}
	if len(req.Platforms) == 0 {
		req.Platforms = []string{"linux/" + runtime.GOARCH}
	}
	reasons := map[string][]string{}
	var services []contract.Service
	if req.Since != "" {
		var opts []contract.AffectedOption
		if len(req.AffectsAll) > 0 {
			opts = append(opts, contract.WithAffectsAll(req.AffectsAll...))
		}
		imp, err := contract.Affected(ctx, req.Root, req.Since, "HEAD", opts...)
		if err != nil {
			return nil, MarkTerminal(fmt.Errorf("planning since %q: %w", req.Since, err))
		}
		for _, a := range imp.Services {
			services = append(services, a.Service)
			for _, r := range a.Reasons {
				reasons[a.Name] = append(reasons[a.Name], string(r.Kind)+" "+r.Path)
			}
		}
	} else {
		cat, err := contract.Discover(req.Root)
		if err != nil {
			return nil, MarkTerminal(fmt.Errorf("planning: %w", err))
		}
		seen := map[string]bool{}
		for _, n := range req.Services {
			if seen[n] {
				continue
			}
			seen[n] = true
			svc, ok := cat.Service(n)
			if !ok {
				return nil, MarkTerminal(fmt.Errorf("planning: unknown service %q (known: %s)", n, strings.Join(cat.Names(), ", ")))
			}
			services = append(services, svc)
			reasons[n] = []string{"named"}
		}
	}
	sort.Slice(services, func(i, j int) bool { return services[i].Name < services[j].Name })
	cache := fingerprint.NewCache()
	targets := make([]Target, 0, len(services))
	for _, svc := range services {
		t, err := planOne(req, cache, svc)
		if err != nil {
			return nil, err
		}
		t.Reasons = reasons[svc.Name]
		if t.Dirty, err = dirtyInputs(ctx, req.Root, svc); err != nil {
			return nil, err
		}
		targets = append(targets, t)
	}
	return targets, nil
}

func planOne(req PlanRequest, cache *fingerprint.Cache, svc contract.Service) (Target, error) {
	repo, err := oci.ParseRepository(strings.TrimSuffix(req.Registry, "/") + "/" + svc.Image)
	if err != nil {
		return Target{}, MarkTerminal(fmt.Errorf("planning %q: %w", svc.Name, err))
	}
	fp, err := cache.Compute(fingerprint.Inputs{
		Root:       req.Root,
		Files:      svc.Build.Files,
		Dockerfile: svc.Build.Dockerfile,
		GoVersion:  req.GoVersion,
		BuildArgs:  svc.Build.Args,
		Platforms:  req.Platforms,
	})
	if err != nil {
		return Target{}, MarkTerminal(fmt.Errorf("fingerprinting %q: %w", svc.Name, err))
	}
	fpTag, err := oci.FingerprintTag(svc.Name, fp.Short())
	if err != nil {
		return Target{}, MarkTerminal(fmt.Errorf("planning %q: %w", svc.Name, err))
	}
	tags := []string{fpTag}
	if req.Env != "" && req.Commit != "" {
		envTag, err := oci.EnvTag(req.Env, req.Commit, svc.Name)
		if err != nil {
			return Target{}, MarkTerminal(fmt.Errorf("planning %q: %w", svc.Name, err))
		}
		tags = append(tags, envTag)
	}
	return Target{
		Service: svc, Name: svc.Name, Repository: repo, Fingerprint: fp.Short(), Tags: tags,
		Commit: req.Commit, CommitTime: req.CommitTime,
	}, nil
}

// dirtyInputs lists the files under the service's inputs (its folder, its
// build context, its Dockerfile, its Go module) that git reports as
// modified, added, deleted or untracked (ignored files excepted): what
// makes the image differ from the commit. Outside a git work tree nothing
// is known to be dirty.
func dirtyInputs(ctx context.Context, root string, svc contract.Service) ([]string, error) {
	if _, err := os.Stat(filepath.Join(root, ".git")); err != nil {
		return nil, nil
	}
	specs := []string{svc.Dir, svc.Build.Context, svc.Build.Dockerfile}
	if svc.Build.Go != nil {
		specs = append(specs, svc.Build.Go.ModuleDir)
	}
	args := []string{"-C", root, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames", "--"}
	for _, p := range specs {
		if p != "" {
			args = append(args, ":(top,literal)"+p)
		}
	}
	out, err := exec.CommandContext(ctx, "git", args...).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = strings.TrimSpace(string(ee.Stderr))
		}
		return nil, MarkTerminal(fmt.Errorf("listing uncommitted changes of %q: %w %s", svc.Name, err, stderr))
	}
	var files []string
	for _, e := range strings.Split(string(out), "\x00") {
		if len(e) > 3 {
			files = append(files, e[3:])
		}
	}
	sort.Strings(files)
	return slices.Compact(files), nil
}
