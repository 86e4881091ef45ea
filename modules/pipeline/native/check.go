package native

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/ferry-ci/ferry/modules/contract"
	"github.com/ferry-ci/ferry/modules/manifests"
	"github.com/ferry-ci/ferry/modules/pipeline"
)

// The checks of the pre-push validation, as Finding.Check names them.
const (
	CheckConfig      = "config"      // ferry.yaml
	CheckContract    = "contract"    // services/*/service.yaml
	CheckDeployments = "deployments" // the deployments tree, offline
	CheckWorkflows   = "workflows"   // actionlint and the project's workflow rules
	CheckFormat      = "gofmt"       // gofmt of the affected Go modules
	CheckVet         = "vet"         // go vet of the affected Go modules
	CheckTest        = "test"        // go test of the affected services
)

// Finding is one violation: which check found it, where, what is wrong
// and what to do about it.
type Finding struct {
	// Check is the check that found it (CheckConfig, ...).
	Check string `json:"check"`
	// File is the repository-relative file (or folder) at fault.
	File string `json:"file,omitempty"`
	// Line is the 1-based line in File, 0 when unknown.
	Line int `json:"line,omitempty"`
	// Message says what is wrong.
	Message string `json:"message"`
	// Fix says what to do.
	Fix string `json:"fix,omitempty"`
}

// String renders "file:line: message (check)".
func (f Finding) String() string {
	loc := f.File
	if f.Line > 0 {
		loc = fmt.Sprintf("%s:%d", f.File, f.Line)
	}
	if loc != "" {
		loc += ": "
	}
	return loc + f.Message + " (" + f.Check + ")"
}

// CheckReport is the outcome of the pre-push validation.
type CheckReport struct {
	// Since is the base revision the affected modules and services were
	// found from; empty when only the repository-wide checks ran.
	Since string `json:"since,omitempty"`
	// Services are the services whose service.yaml validated.
	Services []string `json:"services"`
	// Rendered counts the objects rendered per deployments folder.
	Rendered map[string]int `json:"rendered"`
	// Linted are the Go modules gofmt and go vet checked (folders).
	Linted []string `json:"linted"`
	// Tested are the services whose tests ran.
	Tested []string `json:"tested"`
	// Skipped says which checks could not run and how to enable them.
	Skipped []string `json:"skipped,omitempty"`
	// Findings are the violations; empty means the repository passed.
	Findings []Finding `json:"findings"`
}

func (r *CheckReport) add(f ...Finding) { r.Findings = append(r.Findings, f...) }

type checkOptions struct {
	since      string
	goCmd      string
	actionlint string
	tests      bool
}

// CheckOption configures Check.
type CheckOption func(*checkOptions) error

// WithSince adds the checks of what changed from rev to HEAD: gofmt and go
// vet of the affected Go modules and the tests of the affected services
// (contract.Affected with ferry.yaml's affectsAll). Default: none, only
// the repository-wide checks run.
func WithSince(rev string) CheckOption {
	return func(o *checkOptions) error {
		if rev == "" || strings.HasPrefix(rev, "-") {
			return fmt.Errorf("since %q: want a revision such as origin/main", rev)
		}
		o.since = rev
		return nil
	}
}

// WithGoCommand sets the go command. Default: "go" from PATH.
func WithGoCommand(goCmd string) CheckOption {
	return func(o *checkOptions) error {
		if goCmd == "" {
			return errors.New("empty go command")
		}
		o.goCmd = goCmd
		return nil
	}
}

// WithActionlint sets the actionlint binary. Default: actionlint on PATH,
// else $FERRY_TOOLS_DIR/bin/actionlint (~/.cache/ferry/tools/bin); when
// none is found the lint is skipped and the report says so.
func WithActionlint(bin string) CheckOption {
	return func(o *checkOptions) error {
		if bin == "" {
			return errors.New("empty actionlint path")
		}
		o.actionlint = bin
		return nil
	}
}

// WithoutTests leaves out the tests of the affected services (lint only).
// Default: they run.
func WithoutTests() CheckOption {
	return func(o *checkOptions) error { o.tests = false; return nil }
}

// Check is the pre-push validation; it needs no registry, key or forge.
// Always: the repository's configuration (ferry.yaml), every service's
// contract (service.yaml), the deployments tree validated offline
// (rendered overlays against the Kubernetes schemas and the vendored CRDs,
// the policies, Argo CD projects, SOPS files, the Compose bridge,
// OpenTofu) and the workflows (actionlint when installed, and
// tools/workflowcheck's rules when the repository has them). With
// WithSince, also gofmt and go vet of the Go modules a change since that
// revision touches and the tests of the services it affects. Violations
// are findings, each naming its file and what to do; an error means the
// check could not run.
func Check(ctx context.Context, root string, opts ...CheckOption) (*CheckReport, error) {
	o := checkOptions{goCmd: "go", tests: true}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, pipeline.MarkTerminal(fmt.Errorf("configuring the check: %w", err))
		}
	}
	rep := &CheckReport{Since: o.since, Rendered: map[string]int{}, Linted: []string{}, Tested: []string{}, Findings: []Finding{}}
	repoCfg, err := LoadRepoConfig(root)
	if err != nil {
		rep.add(Finding{Check: CheckConfig, File: RepoConfigFile, Message: strings.TrimPrefix(err.Error(), RepoConfigFile+": "),
			Fix: "correct the field in " + RepoConfigFile + " (its header comment documents it)"})
	}
	cat, err := contract.Discover(root)
	if err != nil {
		rep.add(contractFindings(err)...)
	}
	if cat != nil {
		for _, s := range cat.Services {
			rep.Services = append(rep.Services, s.Name)
		}
	}
	if err := checkDeployments(ctx, root, rep); err != nil {
		return nil, err
	}
	if err := checkWorkflows(ctx, root, o, rep); err != nil {
		return nil, err
	}
	if o.since != "" {
		if err := checkChanges(ctx, root, repoCfg.AffectsAll, o, rep); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// contractFindings turns contract.Discover's joined errors into findings,
// one per field.
func contractFindings(err error) []Finding {
	var out []Finding
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		var fe *contract.FieldError
		if errors.As(e, &fe) {
			msg := fe.Msg
			if fe.Field != "" {
				msg = fe.Field + ": " + msg
			}
			out = append(out, Finding{Check: CheckContract, File: fe.File, Line: fe.Line, Message: msg,
				Fix: "correct the field (schema: docs/service-yaml.md)"})
			return
		}
		out = append(out, Finding{Check: CheckContract, File: contract.ServicesDir, Message: e.Error(),
			Fix: "every services/<name>/ needs a valid service.yaml (schema: docs/service-yaml.md)"})
	}
	walk(err)
	return out
}

func checkDeployments(ctx context.Context, root string, rep *CheckReport) error {
	dir := filepath.Join(root, "deployments")
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		rep.Skipped = append(rep.Skipped, "deployments: the repository has no deployments/ folder")
		return nil
	}
	m, err := manifests.Check(ctx, dir, manifests.WithCRDDir(filepath.Join(root, "modules", "manifests", "crds")))
	if err != nil {
		return pipeline.MarkTerminal(fmt.Errorf("checking %s: %w", dir, err))
	}
	for d, n := range m.Rendered {
		rep.Rendered[d] = n
	}
	for _, f := range m.Findings {
		file := f.File
		if file != "" && !strings.HasPrefix(file, "deployments/") {
			file = path.Join("deployments", filepath.ToSlash(file))
		}
		var msg []string
		for _, p := range []string{f.Object, f.Field, f.Message} {
			if p != "" {
				msg = append(msg, p)
			}
		}
		m := strings.Join(msg, ": ")
		if f.Rule != "" {
			m += " [" + f.Rule + "]"
		}
		rep.add(Finding{Check: CheckDeployments, File: file, Message: m, Fix: deploymentsFix(f.Rule)})
	}
	return nil
}

// deploymentsFix says what to do about a deployments finding by rule.
func deploymentsFix(rule string) string {
	switch {
	case strings.Contains(rule, "digest"):
		return "pin the image by digest (images: ... digest: sha256:...); `ci release` writes it"
	case rule == "render":
		return "make the folder render: kustomize build " + "deployments/<folder>"
	case strings.Contains(rule, "schema"):
		return "correct the field against the Kubernetes schema or the CRD"
	default:
		return "change the manifest so the rule holds (docs/deployments.md lists the rules)"
	}
}

// findTool returns name on PATH, else under $FERRY_TOOLS_DIR/bin (default
// ~/.cache/ferry/tools/bin), where .ci/tools.sh builds the pinned tools;
// "" when neither has it.
func findTool(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	dir := os.Getenv("FERRY_TOOLS_DIR")
	if dir == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return ""
			}
			base = filepath.Join(home, ".cache")
		}
		dir = filepath.Join(base, "ferry", "tools")
	}
	p := filepath.Join(dir, "bin", name)
	if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
		return p
	}
	return ""
}
