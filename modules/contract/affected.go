package contract

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// ReasonKind says why a service is affected.
type ReasonKind string

// The reasons a change affects a service.
const (
	// ReasonFolder: a file in the service folder changed.
	ReasonFolder ReasonKind = "folder"
	// ReasonModule: a file of a Go module the service builds with changed
	// (its own module, a local replace target, a go.work module).
	ReasonModule ReasonKind = "module"
	// ReasonDockerfile: a file that the Dockerfile copies from its build
	// context changed (or the Dockerfile or .dockerignore itself).
	ReasonDockerfile ReasonKind = "dockerfile"
	// ReasonGlobal: a file matched a glob declared to affect every service.
	ReasonGlobal ReasonKind = "global"
)

// Reason is one changed file and why it affects a service.
type Reason struct {
	// Kind is the rule that matched.
	Kind ReasonKind
	// Path is the changed file, repository-relative.
	Path string
	// Detail is the module path (ReasonModule), the Dockerfile source
	// (ReasonDockerfile) or the glob (ReasonGlobal); empty for ReasonFolder.
	Detail string
}

// AffectedService is a service that must be rebuilt, and why.
type AffectedService struct {
	// Name is the service name.
	Name string
	// Service is the service as revision To declares it, build inputs
	// (Build.Files) resolved.
	Service Service
	// Reasons lists every rule and file that affected it, sorted by path.
	Reasons []Reason
}

// Impact is the result of Affected.
type Impact struct {
	// From and To are the resolved commit hashes (From is empty when the
	// comparison started from nothing).
	From, To string
	// Changed lists the changed paths (added, modified, deleted), sorted.
	Changed []string
	// Services lists the affected services, sorted by name.
	Services []AffectedService
	// Considered lists every service of revision To, sorted: all of them
	// were validated, whether affected or not.
	Considered []string
	// Removed lists the services of From whose service.yaml is gone in
	// To (nothing to build; their deployment is the caller's concern).
	Removed []string
}

// Names lists the affected service names, sorted.
func (i *Impact) Names() []string {
	out := make([]string, len(i.Services))
	for j, s := range i.Services {
		out[j] = s.Name
	}
	return out
}

type affectedOptions struct {
	all []string
}

// AffectedOption configures Affected.
type AffectedOption func(*affectedOptions) error

// WithAffectsAll declares globs of repository-relative files whose change
// affects every service (for example "go.work", ".github/workflows/**").
// The syntax is that of .dockerignore and build.inputs. Default: none, so
// that only what a repository declares (in its configuration) widens a
// release.
func WithAffectsAll(globs ...string) AffectedOption {
	return func(o *affectedOptions) error {
		for _, g := range globs {
			if _, ok := inside(".", g, "."); !ok {
				return fmt.Errorf("WithAffectsAll: %q must be a relative glob inside the repository", g)
			}
			if _, err := newMatcher([]string{g}); err != nil {
				return fmt.Errorf("WithAffectsAll: %q: %w", g, err)
			}
		}
		o.all = append(o.all, globs...)
		return nil
	}
}

// Affected opens the git repository at (or above) repoDir and returns the
// services of revision to that the change from..to affects. A service is
// affected when a changed file
//   - lies in its folder;
//   - belongs to a Go module it builds with: its own module, modules that
//     local replace directives of its go.mod (and theirs, transitively)
//     point at, and go.work modules whose path its go.mod requires;
//   - lies in its build context, is not excluded by the context's
//     .dockerignore, and is read by its Dockerfile (COPY, ADD, RUN bind
//     mounts; COPY --from=stage reads nothing from the context), or is that
//     Dockerfile or .dockerignore;
//   - matches a WithAffectsAll glob.
//
// Everything (service.yaml, go.mod, go.work, Dockerfile) is read from the
// committed tree of to, not from the work tree. An empty from compares
// with the empty tree, so every service is affected. Revisions are
// anything go-git resolves: a hash, a branch, a tag, HEAD~1.
func Affected(ctx context.Context, repoDir, from, to string, opts ...AffectedOption) (*Impact, error) {
	var o affectedOptions
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("computing affected services: %w", err)
		}
	}
	repo, err := git.PlainOpenWithOptions(repoDir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return nil, fmt.Errorf("opening git repository %s: %w", repoDir, err)
	}
	imp := &Impact{}
	var fromTree *object.Tree
	if from != "" {
		c, err := resolveCommit(repo, from)
		if err != nil {
			return nil, err
		}
		imp.From = c.Hash.String()
		if fromTree, err = c.Tree(); err != nil {
			return nil, fmt.Errorf("reading the tree of %s: %w", from, err)
		}
	}
	c, err := resolveCommit(repo, to)
	if err != nil {
		return nil, err
	}
	imp.To = c.Hash.String()
	toTree, err := c.Tree()
	if err != nil {
		return nil, fmt.Errorf("reading the tree of %s: %w", to, err)
	}
	toFS, fromFS := newTreeFS(toTree), newTreeFS(fromTree)
	if imp.Changed, err = changedPaths(ctx, fromFS, toFS); err != nil {
		return nil, fmt.Errorf("comparing %s with %s: %w", from, to, err)
	}
	if err := affected(imp, toFS, fromFS, o); err != nil {
		return nil, fmt.Errorf("computing affected services at %s: %w", to, err)
	}
	return imp, nil
}

func resolveCommit(repo *git.Repository, rev string) (*object.Commit, error) {
	h, err := repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return nil, fmt.Errorf("resolving revision %q: %w", rev, err)
	}
	c, err := repo.CommitObject(*h)
	if err != nil {
		return nil, fmt.Errorf("reading commit %s: %w", h, err)
	}
	return c, nil
}

// affected fills imp.Services from imp.Changed; toFS is the revision the
// services are read from, fromFS the one before (for deleted files).
func affected(imp *Impact, toFS, fromFS fs.FS, o affectedOptions) error {
	cat, err := discover(toFS, false)
	if err != nil {
		return err
	}
	imp.Considered = cat.Names()
	for _, p := range imp.Changed {
		if name, ok := serviceOf(p); ok {
			if _, err := fs.Stat(toFS, p); err != nil {
				if _, err := fs.Stat(fromFS, p); err == nil {
					imp.Removed = append(imp.Removed, name)
				}
			}
		}
	}
	if len(imp.Changed) == 0 {
		return nil
	}
	var global *matcher
	if len(o.all) > 0 {
		if global, err = newMatcher(o.all); err != nil {
			return err
		}
	}
	mods, err := newModGraph(toFS)
	if err != nil {
		return err
	}
	for _, svc := range cat.Services {
		reasons, err := serviceReasons(svc, imp.Changed, toFS, fromFS, mods)
		if err != nil {
			return err
		}
		if global != nil {
			for _, p := range imp.Changed {
				if global.match(p) {
					reasons = append(reasons, Reason{Kind: ReasonGlobal, Path: p, Detail: globFor(o.all, p)})
				}
			}
		}
		if len(reasons) == 0 {
			continue
		}
		sort.SliceStable(reasons, func(i, j int) bool { return reasons[i].Path < reasons[j].Path })
		if svc.Build.Files, err = resolveInputs(toFS, svc.Build.Context, svc.Build.Inputs); err != nil {
			return err
		}
		imp.Services = append(imp.Services, AffectedService{Name: svc.Name, Service: svc, Reasons: reasons})
	}
	return nil
}

// serviceOf returns the service name when p is a services/<name>/service.yaml.
func serviceOf(p string) (string, bool) {
	parts := strings.Split(p, "/")
	if len(parts) == 3 && parts[0] == ServicesDir && parts[2] == ServiceFile {
		return parts[1], true
	}
	return "", false
}

// globFor names the first single glob that matches p, for the report.
func globFor(globs []string, p string) string {
	for _, g := range globs {
		if m, err := newMatcher([]string{g}); err == nil && m.match(p) {
			return g
		}
	}
	return strings.Join(globs, ",")
}

func serviceReasons(svc Service, changed []string, toFS, fromFS fs.FS, mods *modGraph) ([]Reason, error) {
	var reasons []Reason
	// Folder.
	for _, p := range changed {
		if inDir(p, svc.Dir) {
			reasons = append(reasons, Reason{Kind: ReasonFolder, Path: p})
		}
	}
	// Go modules.
	if modDir, _, err := findModule(toFS, svc.Dir); err == nil {
		dirs, err := mods.deps(modDir)
		if err != nil {
			return nil, err
		}
		for _, d := range dirs {
			m, _ := mods.module(d)
			for _, p := range changed {
				if inDir(p, svc.Dir) || !inDir(p, d) {
					continue
				}
				fsys := toFS
				if _, err := fs.Stat(toFS, p); err != nil {
					fsys = fromFS // deleted: its place in the old tree decides
				}
				if ownedBy(fsys, d, p) {
					reasons = append(reasons, Reason{Kind: ReasonModule, Path: p, Detail: m.path})
				}
			}
		}
	}
	// Dockerfile.
	df, err := fs.ReadFile(toFS, svc.Build.Dockerfile)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", svc.Build.Dockerfile, err)
	}
	sources := contextSources(df)
	ignore, err := readDockerignore(toFS, svc.Build.Context)
	if err != nil {
		return nil, err
	}
	special := map[string]bool{svc.Build.Dockerfile: true, path.Join(svc.Build.Context, DockerignoreFile): true}
	for _, p := range changed {
		if inDir(p, svc.Dir) {
			continue // already a folder reason
		}
		if special[p] {
			reasons = append(reasons, Reason{Kind: ReasonDockerfile, Path: p})
			continue
		}
		if !inDir(p, svc.Build.Context) {
			continue
		}
		rel := strings.TrimPrefix(p, svc.Build.Context+"/")
		if svc.Build.Context == "." {
			rel = p
		}
		if ignore.match(rel) {
			continue
		}
		for _, s := range sources {
			if sourceMatches(s, rel) {
				reasons = append(reasons, Reason{Kind: ReasonDockerfile, Path: p, Detail: s})
				break
			}
		}
	}
	return reasons, nil
}
