package contract

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/mod/modfile"
)

// ServiceFile is the name of the contract file in every service folder.
const ServiceFile = "service.yaml"

// rawService mirrors service.yaml (see docs/service-yaml.md). Pointers mark
// fields whose absence differs from their zero value.
type rawService struct {
	SchemaVersion *int      `yaml:"schemaVersion"`
	Name          string    `yaml:"name"`
	Kind          string    `yaml:"kind"`
	Description   string    `yaml:"description"`
	Owner         string    `yaml:"owner"`
	Image         string    `yaml:"image"`
	Build         rawBuild  `yaml:"build"`
	Health        rawHealth `yaml:"health"`
	Env           []rawEnv  `yaml:"env"`
	Deploy        rawDeploy `yaml:"deploy"`
}

type rawBuild struct {
	Dockerfile *string           `yaml:"dockerfile"`
	Context    *string           `yaml:"context"`
	Inputs     *[]string         `yaml:"inputs"`
	Args       map[string]string `yaml:"args"`
	Go         *rawGo            `yaml:"go"`
}

type rawGo struct {
	Main    string     `yaml:"main"`
	Ldflags rawLdflags `yaml:"ldflags"`
}

type rawLdflags struct {
	SHA     string `yaml:"sha"`
	BuildTs string `yaml:"buildTs"`
}

type rawHealth struct {
	Port    *int    `yaml:"port"`
	Livez   *string `yaml:"livez"`
	Readyz  *string `yaml:"readyz"`
	Version *string `yaml:"version"`
	Metrics string  `yaml:"metrics"`
}

type rawEnv struct {
	Name        string  `yaml:"name"`
	Required    bool    `yaml:"required"`
	Secret      bool    `yaml:"secret"`
	Default     *string `yaml:"default"`
	Description string  `yaml:"description"`
}

type rawDeploy struct {
	Manifest string `yaml:"manifest"`
}

var (
	dnsLabelRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	envNameRE  = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
	argNameRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// repoNameRE is the OCI distribution repository name grammar.
	repoNameRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$`)
	// linkVarRE is an -X target: an import path, a dot, an identifier.
	linkVarRE = regexp.MustCompile(`^[^\s=]+\.[A-Za-z_][A-Za-z0-9_]*$`)
)

// ManifestRoot is the folder every deploy.manifest must lie under.
const ManifestRoot = "deployments/base"

// LoadService reads and validates the service.yaml at file (a slash path
// relative to the root of fsys, which is the repository root), resolving
// its build inputs. Every problem found is returned, joined; each is a
// *FieldError naming the file and the field.
func LoadService(fsys fs.FS, file string) (Service, error) {
	return loadService(fsys, file, true)
}

func loadService(fsys fs.FS, file string, resolveFiles bool) (Service, error) {
	data, err := fs.ReadFile(fsys, file)
	if err != nil {
		return Service{}, fmt.Errorf("reading %s: %w", file, err)
	}
	l := &loader{fsys: fsys, strictDecoder: strictDecoder{file: file}, resolveFiles: resolveFiles}
	var raw rawService
	l.decode(data, &raw)
	if len(l.errs) > 0 {
		return Service{}, errors.Join(l.errs...)
	}
	svc := l.validate(&raw, path.Dir(file))
	if len(l.errs) > 0 {
		return Service{}, errors.Join(l.errs...)
	}
	return svc, nil
}

type loader struct {
	strictDecoder
	fsys         fs.FS
	resolveFiles bool
}

// bad records a rule broken at field, pointing at the field's line.
func (l *loader) bad(field, format string, args ...any) {
	l.fail(field, l.line(field), format, args...)
}

func (l *loader) validate(raw *rawService, dir string) Service {
	svc := Service{
		Name:        raw.Name,
		Kind:        Kind(raw.Kind),
		Description: raw.Description,
		Owner:       raw.Owner,
		Image:       raw.Image,
		Dir:         dir,
		File:        l.file,
	}
	folder := path.Base(dir)

	switch {
	case raw.SchemaVersion == nil:
		l.bad("schemaVersion", "required (this reader knows version %d)", SchemaVersion)
	case *raw.SchemaVersion != SchemaVersion:
		l.bad("schemaVersion", "%d is not supported (want %d)", *raw.SchemaVersion, SchemaVersion)
	}

	switch {
	case raw.Name == "":
		l.bad("name", "required")
	case !dnsLabelRE.MatchString(raw.Name):
		l.bad("name", "%q is not a DNS label (a-z, 0-9 and -, at most 63 characters)", raw.Name)
	case raw.Name != folder:
		l.bad("name", "%q does not equal the folder name %q", raw.Name, folder)
	}

	switch svc.Kind {
	case KindWorker, KindServer, KindJob:
	case "":
		l.bad("kind", "required (worker, server or job)")
	default:
		l.bad("kind", "%q is not one of worker, server, job", raw.Kind)
	}

	switch {
	case strings.TrimSpace(raw.Description) == "":
		l.bad("description", "required")
	case strings.ContainsAny(strings.TrimRight(raw.Description, "\n"), "\r\n"):
		l.bad("description", "must be one line")
	}
	svc.Description = strings.TrimSpace(raw.Description)

	if svc.Image == "" {
		svc.Image = raw.Name
	} else if !repoNameRE.MatchString(svc.Image) {
		l.bad("image", "%q is not a registry repository name (lowercase a-z, 0-9, separators . _ - /)", svc.Image)
	}

	svc.Build = l.build(&raw.Build, dir)
	svc.Health = l.health(&raw.Health)
	svc.Env = l.env(raw.Env, svc.Health.Port)
	svc.Manifest = l.manifest(raw.Deploy.Manifest)
	return svc
}

// inside resolves rel (relative to base) and reports whether it stays under
// within; it refuses absolute paths.
func inside(base, rel, within string) (string, bool) {
	if rel == "" || path.IsAbs(rel) || strings.HasPrefix(rel, "\\") {
		return "", false
	}
	p := path.Join(base, rel)
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", false
	}
	return p, inDir(p, within)
}

func (l *loader) build(raw *rawBuild, dir string) Build {
	b := Build{Args: map[string]string{}}

	ctx := "."
	if raw.Context != nil {
		ctx = *raw.Context
	}
	if p, ok := inside(dir, ctx, dir); !ok {
		l.bad("build.context", "%q leaves the service folder", ctx)
	} else if st, err := fs.Stat(l.fsys, p); err != nil || !st.IsDir() {
		l.bad("build.context", "%s is not a folder", p)
	} else {
		b.Context = p
	}

	df := "Dockerfile"
	if raw.Dockerfile != nil {
		df = *raw.Dockerfile
	}
	if p, ok := inside(dir, df, "."); !ok {
		l.bad("build.dockerfile", "%q leaves the repository", df)
	} else if st, err := fs.Stat(l.fsys, p); err != nil {
		l.bad("build.dockerfile", "%s does not exist", p)
	} else if st.IsDir() {
		l.bad("build.dockerfile", "%s is a folder, not a file", p)
	} else {
		b.Dockerfile = p
	}

	b.Inputs = []string{"**"}
	if raw.Inputs != nil {
		b.Inputs = *raw.Inputs
		if len(b.Inputs) == 0 {
			l.bad("build.inputs", "must list at least one glob (omit it for the default \"**\")")
		}
	}
	inputsOK := true
	for i, g := range b.Inputs {
		field := fmt.Sprintf("build.inputs[%d]", i)
		if _, ok := inside(".", g, "."); !ok || g == "" {
			l.bad(field, "%q must be a relative glob that stays inside the build context", g)
			inputsOK = false
			continue
		}
		if _, err := newMatcher([]string{g}); err != nil {
			l.bad(field, "%q is not a valid glob: %v", g, err)
			inputsOK = false
		}
	}
	if inputsOK && b.Context != "" && l.resolveFiles {
		files, err := resolveInputs(l.fsys, b.Context, b.Inputs)
		if err != nil {
			l.fail("build.inputs", l.line("build.inputs"), "%v", err)
		}
		b.Files = files
	}

	names := make([]string, 0, len(raw.Args))
	for k := range raw.Args {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if !argNameRE.MatchString(k) {
			l.bad("build.args."+k, "%q is not a build arg name", k)
			continue
		}
		b.Args[k] = raw.Args[k]
	}

	if raw.Go != nil {
		b.Go = l.goBuild(raw.Go, dir)
	}
	return b
}

func (l *loader) goBuild(raw *rawGo, dir string) *GoBuild {
	g := &GoBuild{Main: raw.Main, Ldflags: Ldflags{SHA: raw.Ldflags.SHA, BuildTS: raw.Ldflags.BuildTs}}
	for _, f := range [][2]string{{"build.go.ldflags.sha", g.Ldflags.SHA}, {"build.go.ldflags.buildTs", g.Ldflags.BuildTS}} {
		if f[1] != "" && !linkVarRE.MatchString(f[1]) {
			l.bad(f[0], "%q is not a linker variable (import/path.name)", f[1])
		}
	}
	modDir, modPath, err := findModule(l.fsys, dir)
	if err != nil {
		l.bad("build.go", "%v", err)
		return g
	}
	g.ModuleDir, g.ModulePath = modDir, modPath
	switch {
	case raw.Main == "":
		l.bad("build.go.main", "required")
		return g
	case !strings.HasPrefix(raw.Main, "./"):
		l.bad("build.go.main", "must start with ./")
		return g
	}
	p, ok := inside(modDir, raw.Main, modDir)
	if !ok {
		l.bad("build.go.main", "%q leaves the module folder %s", raw.Main, modDir)
		return g
	}
	if st, err := fs.Stat(l.fsys, p); err != nil || !st.IsDir() {
		l.bad("build.go.main", "%s is not a folder", p)
		return g
	}
	g.MainDir = p
	g.Package = modPath
	if rel := strings.TrimPrefix(strings.TrimPrefix(p, modDir), "/"); modDir == "." {
		g.Package = path.Join(modPath, p)
	} else if rel != "" {
		g.Package = modPath + "/" + rel
	}
	return g
}

// findModule returns the folder and module path of the nearest go.mod at or
// above dir.
func findModule(fsys fs.FS, dir string) (string, string, error) {
	for d := dir; ; d = path.Dir(d) {
		f := path.Join(d, "go.mod")
		data, err := fs.ReadFile(fsys, f)
		if err == nil {
			mp := modfile.ModulePath(data)
			if mp == "" {
				return "", "", fmt.Errorf("%s declares no module path", f)
			}
			return d, mp, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", "", fmt.Errorf("reading %s: %w", f, err)
		}
		if d == "." {
			return "", "", fmt.Errorf("no go.mod in %s or above it", dir)
		}
	}
}

func (l *loader) health(raw *rawHealth) Health {
	h := Health{Livez: "/livez", Readyz: "/readyz", Version: "/version", Metrics: raw.Metrics}
	switch {
	case raw.Port == nil:
		l.bad("health.port", "required")
	case *raw.Port < 1 || *raw.Port > 65535:
		l.bad("health.port", "%d is out of range 1..65535", *raw.Port)
	default:
		h.Port = *raw.Port
	}
	for _, p := range []struct {
		field string
		val   *string
		dst   *string
	}{{"health.livez", raw.Livez, &h.Livez}, {"health.readyz", raw.Readyz, &h.Readyz}, {"health.version", raw.Version, &h.Version}} {
		if p.val != nil {
			*p.dst = *p.val
			if !strings.HasPrefix(*p.val, "/") {
				l.bad(p.field, "%q must be an absolute path (start with /)", *p.val)
			}
		}
	}
	if h.Metrics != "" && !strings.HasPrefix(h.Metrics, "/") {
		l.bad("health.metrics", "%q must be an absolute path (start with /)", h.Metrics)
	}
	return h
}

// HealthPortEnv is the env variable whose default must equal health.port.
const HealthPortEnv = "HEALTH_PORT"

func (l *loader) env(raw []rawEnv, port int) []EnvVar {
	var out []EnvVar
	first := map[string]int{}
	for i, e := range raw {
		field := fmt.Sprintf("env[%d]", i)
		v := EnvVar{Name: e.Name, Required: e.Required, Secret: e.Secret, Description: e.Description}
		if e.Default != nil {
			v.Default, v.HasDefault = *e.Default, true
		}
		switch {
		case e.Name == "":
			l.bad(field+".name", "required")
		case !envNameRE.MatchString(e.Name):
			l.bad(field+".name", "%q is not UPPER_SNAKE_CASE (^[A-Z][A-Z0-9_]*$)", e.Name)
		default:
			if j, dup := first[e.Name]; dup {
				l.bad(field+".name", "%s is declared twice (first at env[%d])", e.Name, j)
			} else {
				first[e.Name] = i
			}
		}
		if e.Required && e.Default != nil {
			l.bad(field+".default", "a required variable has no default (required and default are exclusive)")
		}
		if e.Name == HealthPortEnv && port != 0 {
			switch {
			case !v.HasDefault:
				l.bad(field+".default", "%s must default to health.port %d", HealthPortEnv, port)
			case v.Default != strconv.Itoa(port) && v.Secret:
				l.bad(field+".default", "%s default differs from health.port %d", HealthPortEnv, port)
			case v.Default != strconv.Itoa(port):
				l.bad(field+".default", "%s default %q differs from health.port %d", HealthPortEnv, v.Default, port)
			}
		}
		out = append(out, v)
	}
	return out
}

func (l *loader) manifest(m string) string {
	const field = "deploy.manifest"
	if m == "" {
		l.bad(field, "required (a folder under %s/)", ManifestRoot)
		return ""
	}
	p, ok := inside(".", m, ManifestRoot)
	if !ok || p == ManifestRoot {
		l.bad(field, "%q is not a folder under %s/", m, ManifestRoot)
		return ""
	}
	st, err := fs.Stat(l.fsys, p)
	switch {
	case err != nil:
		l.bad(field, "%s does not exist", p)
		return ""
	case !st.IsDir():
		l.bad(field, "%s is not a folder", p)
		return ""
	}
	return p
}
