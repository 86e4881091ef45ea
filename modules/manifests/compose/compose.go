// Package compose checks the Compose bridge with the compose-spec Go
// library (the loader Docker Compose and podman-compose's spec share):
// every image is a full digest reference, given either literally or through
// a required variable whose value is checked too; scheduler-worker stops
// with a 30 s grace period and has a healthcheck on its contract endpoints.
package compose

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"sigs.k8s.io/yaml"

	"github.com/ferry-ci/ferry/modules/manifests/diag"
	"github.com/ferry-ci/ferry/modules/manifests/policy"
)

// Rule names, as they appear in findings.
const (
	RuleImage       = "compose-image-digest"
	RuleSpec        = "compose-spec"
	RuleGrace       = "compose-stop-grace"
	RuleHealthcheck = "compose-healthcheck"
)

// Worker is the service the contract rules apply to.
const Worker = "scheduler-worker"

// WorkerGrace is the stop grace period the worker's 30 s drain needs.
const WorkerGrace = 30 * time.Second

// requiredVar matches an image given as ${NAME:?message} (or ${NAME?...}).
var requiredVar = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*):?\?[^}]*\}$`)

// defaultVar matches ${NAME:-default} or ${NAME-default}.
var defaultVar = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*):?-([^}]*)\}$`)

// ImageVars returns, per service, the variable its image is read from
// (services with a literal image are absent).
func ImageVars(file string) (map[string]string, error) {
	raw, err := rawServices(file)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for name, img := range raw {
		if m := requiredVar.FindStringSubmatch(img); m != nil {
			out[name] = m[1]
		} else if m := defaultVar.FindStringSubmatch(img); m != nil {
			out[name] = m[1]
		}
	}
	return out, nil
}

func rawServices(file string) (map[string]string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", file, err)
	}
	var doc struct {
		Services map[string]struct {
			Image string `json:"image"`
		} `json:"services"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("parsing %q: %w", file, err)
	}
	out := map[string]string{}
	for n, s := range doc.Services {
		out[n] = s.Image
	}
	return out, nil
}

// CheckImageValue checks the value a variable gives an image: a full
// repo@sha256:<64 hex> reference. It returns "" when the value is fine.
func CheckImageValue(value string) string {
	return policy.ImageUnpinned(value)
}

// Check loads file with env (the variables a deploy would set) and applies
// the rules. rel names the file in findings.
func Check(ctx context.Context, file, rel string, env map[string]string) ([]diag.Finding, error) {
	raw, err := rawServices(file)
	if err != nil {
		return nil, err
	}
	var out []diag.Finding
	add := func(svc, field, rule, format string, args ...any) {
		f := "services." + svc
		if field != "" {
			f += "." + field
		}
		if svc == "" {
			f = field
		}
		out = append(out, diag.Finding{File: rel, Field: f, Rule: rule, Message: fmt.Sprintf(format, args...)})
	}
	names := make([]string, 0, len(raw))
	for n := range raw {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		img := raw[n]
		switch {
		case img == "":
			add(n, "image", RuleImage, "missing: every service runs a pinned image (no build:)")
		case requiredVar.MatchString(img):
			v := requiredVar.FindStringSubmatch(img)[1]
			if val, ok := env[v]; ok {
				if msg := CheckImageValue(val); msg != "" {
					add(n, "image", RuleImage, "$%s: %s", v, msg)
				}
			}
		case defaultVar.MatchString(img):
			m := defaultVar.FindStringSubmatch(img)
			if msg := CheckImageValue(m[2]); msg != "" {
				add(n, "image", RuleImage, "default of $%s: %s", m[1], msg)
			}
			if val, ok := env[m[1]]; ok {
				if msg := CheckImageValue(val); msg != "" {
					add(n, "image", RuleImage, "$%s: %s", m[1], msg)
				}
			}
		case strings.Contains(img, "$"):
			add(n, "image", RuleImage, "%q: use ${NAME:?message} so a missing image refuses to start", img)
		default:
			if msg := CheckImageValue(img); msg != "" {
				add(n, "image", RuleImage, "%s", msg)
			}
		}
	}
	proj, err := loader.LoadWithContext(ctx, types.ConfigDetails{
		WorkingDir:  filepath.Dir(file),
		ConfigFiles: []types.ConfigFile{{Filename: file}},
		Environment: env,
	}, func(o *loader.Options) {
		o.SetProjectName("ferry-check", false)
		o.SkipResolveEnvironment = true
	})
	if err != nil {
		add("", "", RuleSpec, "loading: %v", err)
		return out, nil
	}
	w, ok := proj.Services[Worker]
	if !ok {
		add(Worker, "", RuleSpec, "missing: the bridge runs %s", Worker)
		return out, nil
	}
	if w.StopGracePeriod == nil || time.Duration(*w.StopGracePeriod) < WorkerGrace {
		add(Worker, "stop_grace_period", RuleGrace, "must be at least %s to cover the worker's drain", WorkerGrace)
	}
	if w.StopSignal != "" && w.StopSignal != "SIGTERM" {
		add(Worker, "stop_signal", RuleGrace, "%q: the worker drains on SIGTERM", w.StopSignal)
	}
	for _, n := range proj.ServiceNames() {
		s := proj.Services[n]
		if s.Restart == "no" {
			continue // a run-once job (migrator)
		}
		if s.HealthCheck == nil || s.HealthCheck.Disable || len(s.HealthCheck.Test) == 0 {
			add(n, "healthcheck", RuleHealthcheck, "missing: depends_on service_healthy needs one")
		}
	}
	if hc := w.HealthCheck; hc != nil && !hc.Disable {
		test := strings.Join(hc.Test, " ")
		if !strings.Contains(test, ":9000/readyz") && !strings.Contains(test, ":9000/livez") {
			add(Worker, "healthcheck.test", RuleHealthcheck, "%q does not ask the contract endpoints (/readyz or /livez on port 9000)", test)
		}
	}
	return out, nil
}
