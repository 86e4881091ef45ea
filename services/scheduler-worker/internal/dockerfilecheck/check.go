// Package dockerfilecheck enforces the service contract's Dockerfile rules
// on a Dockerfile parsed with BuildKit's own parser, so what is checked is
// what a builder would run:
//
//   - multi-stage: at least one build stage and a final stage;
//   - every external base is FROM ${ARG}, where ARG is a global build arg
//     whose default is pinned by digest (overridable where nothing can be
//     pulled, pinned everywhere else);
//   - the final stage runs as a non-root USER, with an exec-form ENTRYPOINT
//     (and CMD, when present), EXPOSEs a port, and carries the OCI labels
//     source, revision (from GIT_SHA) and created (from BUILD_TS);
//   - GIT_SHA and BUILD_TS reach the linker: a RUN sets -X ...=${GIT_SHA}
//     and -X ...=${BUILD_TS};
//   - no HEALTHCHECK anywhere: probes live in the manifests.
package dockerfilecheck

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

var (
	digestPinned = regexp.MustCompile(`@sha256:[0-9a-f]{64}$`)
	argRef       = regexp.MustCompile(`^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$`)
)

func ldflag(arg string) *regexp.Regexp {
	return regexp.MustCompile(`-X[ =]?\S+=\$\{?` + arg + `\}?`)
}

// Check parses a Dockerfile and returns every rule it breaks, in a stable
// order; nil means it passes. A Dockerfile that does not parse is one error.
func Check(r io.Reader) []error {
	src, err := io.ReadAll(r)
	if err != nil {
		return []error{fmt.Errorf("reading Dockerfile: %w", err)}
	}
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		return []error{fmt.Errorf("parsing Dockerfile: %w", err)}
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return []error{fmt.Errorf("parsing Dockerfile: %w", err)}
	}
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	if len(stages) < 2 {
		bad("multi-stage: want a build stage and a final stage, found %d stage(s)", len(stages))
	}
	globals := map[string]string{}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			if kv.Value != nil {
				globals[kv.Key] = *kv.Value
			} else {
				globals[kv.Key] = ""
			}
		}
	}
	names := map[string]bool{}
	for i, st := range stages {
		base := st.BaseName
		if !names[strings.ToLower(base)] {
			m := argRef.FindStringSubmatch(base)
			switch {
			case m == nil:
				bad("stage %d: FROM %s: base image must be a global ARG (FROM ${NAME}) so it can be overridden", i+1, base)
			case !hasKey(globals, m[1]):
				bad("stage %d: FROM %s: ARG %s is not declared before the first FROM", i+1, base, m[1])
			case !digestPinned.MatchString(globals[m[1]]):
				bad("stage %d: FROM %s: the default of ARG %s must be pinned by digest (name@sha256:<64 hex>)", i+1, base, m[1])
			}
		}
		if st.Name != "" {
			names[strings.ToLower(st.Name)] = true
		}
		for _, c := range st.Commands {
			if _, ok := c.(*instructions.HealthCheckCommand); ok {
				bad("stage %d: HEALTHCHECK: not allowed, probes live in the manifests", i+1)
			}
		}
	}

	var runs []string
	for _, st := range stages[:max(len(stages)-1, 0)] {
		for _, c := range st.Commands {
			if rc, ok := c.(*instructions.RunCommand); ok {
				runs = append(runs, strings.Join(rc.CmdLine, " "))
			}
		}
	}
	for _, arg := range []string{"GIT_SHA", "BUILD_TS"} {
		re := ldflag(arg)
		found := false
		for _, r := range runs {
			if re.MatchString(r) {
				found = true
			}
		}
		if !found {
			bad("build args: no RUN in a build stage passes -X <var>=${%s} to the linker", arg)
		}
	}

	if len(stages) > 0 {
		checkFinal(stages[len(stages)-1], bad)
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

func hasKey(m map[string]string, k string) bool { _, ok := m[k]; return ok }

func checkFinal(st instructions.Stage, bad func(string, ...any)) {
	var user string
	var entry *instructions.EntrypointCommand
	var expose bool
	labels := map[string]string{}
	for _, c := range st.Commands {
		switch c := c.(type) {
		case *instructions.UserCommand:
			user = c.User
		case *instructions.EntrypointCommand:
			entry = c
		case *instructions.CmdCommand:
			if c.PrependShell {
				bad("final stage: CMD must be in exec form (JSON array)")
			}
		case *instructions.ExposeCommand:
			expose = len(c.Ports) > 0
		case *instructions.LabelCommand:
			for _, kv := range c.Labels {
				labels[kv.Key] = kv.Value
			}
		}
	}
	name := strings.SplitN(user, ":", 2)[0]
	switch {
	case user == "":
		bad("final stage: USER missing: the image must run as a non-root user")
	case name == "root" || name == "0":
		bad("final stage: USER %s: must not be root", user)
	}
	switch {
	case entry == nil:
		bad("final stage: ENTRYPOINT missing")
	case entry.PrependShell:
		bad("final stage: ENTRYPOINT must be in exec form (JSON array) so the binary is PID 1 and gets SIGTERM")
	}
	if !expose {
		bad("final stage: EXPOSE missing: declare the health port")
	}
	for _, l := range []struct{ key, mustUse string }{
		{"org.opencontainers.image.source", ""},
		{"org.opencontainers.image.revision", "GIT_SHA"},
		{"org.opencontainers.image.created", "BUILD_TS"},
	} {
		v, ok := labels[l.key]
		switch {
		case !ok:
			bad("final stage: LABEL %s missing", l.key)
		case l.mustUse != "" && !strings.Contains(v, l.mustUse):
			bad("final stage: LABEL %s must come from ${%s}", l.key, l.mustUse)
		}
	}
}
