package contract

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
)

// ServicesDir is the folder, relative to the repository root, whose
// sub-folders are services.
const ServicesDir = "services"

// Catalog is the set of services of one repository, sorted by name.
type Catalog struct {
	// Services are the valid services, sorted by name.
	Services []Service
	byName   map[string]int
}

// Service returns the service called name.
func (c *Catalog) Service(name string) (Service, bool) {
	i, ok := c.byName[name]
	if !ok {
		return Service{}, false
	}
	return c.Services[i], true
}

// Names lists the service names, sorted.
func (c *Catalog) Names() []string {
	names := make([]string, len(c.Services))
	for i, s := range c.Services {
		names[i] = s.Name
	}
	return names
}

// Discover loads and validates every services/*/service.yaml under the
// repository root folder. Problems are collected across all services and
// returned joined (each a *FieldError, see IsTerminal); the catalog is nil
// then, because a pipeline must not act on half a repository.
func Discover(root string) (*Catalog, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("discovering services in %s: %w", root, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("discovering services in %s: not a folder", root)
	}
	return DiscoverFS(os.DirFS(root))
}

// DiscoverFS is Discover over fsys, whose root is the repository root (a
// folder on disk, or a git tree; see Affected).
func DiscoverFS(fsys fs.FS) (*Catalog, error) {
	return discover(fsys, true)
}

// discover loads the catalog; without resolveFiles, Build.Files stay nil
// (Affected resolves them only for the services it returns).
func discover(fsys fs.FS, resolveFiles bool) (*Catalog, error) {
	entries, err := fs.ReadDir(fsys, ServicesDir)
	if errors.Is(err, fs.ErrNotExist) {
		return &Catalog{byName: map[string]int{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", ServicesDir, err)
	}
	var (
		errs     []error
		services []Service
	)
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		file := path.Join(ServicesDir, e.Name(), ServiceFile)
		if _, err := fs.Stat(fsys, file); errors.Is(err, fs.ErrNotExist) {
			// A folder without a contract is not a service (yet).
			continue
		}
		svc, err := loadService(fsys, file, resolveFiles)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		services = append(services, svc)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return newCatalog(services), nil
}

func newCatalog(services []Service) *Catalog {
	sort.Slice(services, func(i, j int) bool { return services[i].Name < services[j].Name })
	c := &Catalog{Services: services, byName: make(map[string]int, len(services))}
	for i, s := range services {
		c.byName[s.Name] = i
	}
	return c
}
