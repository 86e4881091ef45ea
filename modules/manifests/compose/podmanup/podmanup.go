// Package podmanup brings a Compose project up with podman, for the
// Compose bridge's deploy test. It exists because Debian's podman-compose
// (1.0.3) cannot run the bridge faithfully: it wraps every CMD healthcheck
// in /bin/sh -c (the images have no shell), ignores stop_grace_period
// (podman's 10 s default would cut the worker's 30 s drain) and the
// depends_on conditions, and its down stops with a 1 s timeout. podmanup
// reads the project the compose-spec Go library loaded and runs the subset
// of the spec the bridge uses; a service using anything else is refused
// rather than run differently.
//
// Without systemd podman schedules no healthchecks, so Up runs each
// service's healthcheck itself (podman healthcheck run) wherever a
// depends_on condition waits for service_healthy, and WaitHealthy does the
// same for a caller.
package podmanup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
)

// Label marks every container, network and volume Up creates with the
// project name, so that Down finds them.
const Label = "io.ferry.compose.project"

// supported lists the service fields podmanup runs; any other field set
// makes New refuse the project.
var supported = map[string]bool{
	"image": true, "command": true, "entrypoint": true, "environment": true,
	"ports": true, "volumes": true, "tmpfs": true, "read_only": true,
	"security_opt": true, "cap_drop": true, "cap_add": true, "user": true,
	"stop_signal": true, "stop_grace_period": true, "healthcheck": true,
	"depends_on": true, "restart": true, "networks": true,
}

// Runner runs one project.
type Runner struct {
	podman string
	p      *types.Project
	extra  []string
	order  []string
	slack  uint64
}

// Option configures a Runner.
type Option func(*Runner) error

// WithRunArgs adds podman run arguments to every container (for example
// ulimits a small machine needs).
func WithRunArgs(args ...string) Option {
	return func(r *Runner) error {
		r.extra = append(r.extra, args...)
		return nil
	}
}

// WithHealthSlack multiplies every healthcheck's retries by n (n >= 1)
// before WaitHealthy gives up: for machines slower than the ones the
// compose file's timings were chosen for.
func WithHealthSlack(n int) Option {
	return func(r *Runner) error {
		if n < 1 {
			return fmt.Errorf("health slack %d: want 1 or more", n)
		}
		r.slack = uint64(n)
		return nil
	}
}

// New checks that the project uses only what podmanup runs and that its
// dependencies form no cycle, and returns a Runner driving the podman
// binary at path podman.
func New(podman string, p *types.Project, opts ...Option) (*Runner, error) {
	if podman == "" || p == nil || p.Name == "" {
		return nil, errors.New("creating a podman runner: the podman path and a named project are required")
	}
	r := &Runner{podman: podman, p: p, slack: 1}
	for _, o := range opts {
		if err := o(r); err != nil {
			return nil, err
		}
	}
	for _, n := range p.ServiceNames() {
		if err := checkService(p.Services[n]); err != nil {
			return nil, err
		}
	}
	for _, n := range p.NetworkNames() {
		if nw := p.Networks[n]; nw.External || (nw.Driver != "" && nw.Driver != "bridge") {
			return nil, fmt.Errorf("network %q: only project bridge networks are run", n)
		}
	}
	order, err := topo(p)
	if err != nil {
		return nil, err
	}
	r.order = order
	return r, nil
}

func checkService(s types.ServiceConfig) error {
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("service %q: %w", s.Name, err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return fmt.Errorf("service %q: %w", s.Name, err)
	}
	var bad []string
	for k, v := range fields {
		if !supported[k] && string(v) != "null" {
			bad = append(bad, k)
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		return fmt.Errorf("service %q: %s not run by podmanup; drop it or extend podmanup", s.Name, strings.Join(bad, ", "))
	}
	if s.Image == "" {
		return fmt.Errorf("service %q: image is required", s.Name)
	}
	for _, v := range s.Volumes {
		if v.Type != types.VolumeTypeVolume {
			return fmt.Errorf("service %q: volume %q is of type %s; only named volumes are run", s.Name, v.Target, v.Type)
		}
	}
	for dep, d := range s.DependsOn {
		switch d.Condition {
		case types.ServiceConditionStarted, types.ServiceConditionHealthy, types.ServiceConditionCompletedSuccessfully:
		default:
			return fmt.Errorf("service %q: depends_on.%s.condition %q is not run", s.Name, dep, d.Condition)
		}
	}
	return nil
}

// topo orders the services so that each follows what it depends on (ties
// by name).
func topo(p *types.Project) ([]string, error) {
	var order []string
	state := map[string]int{}
	var visit func(n string, path []string) error
	visit = func(n string, path []string) error {
		switch state[n] {
		case 1:
			return fmt.Errorf("services: dependency cycle %s", strings.Join(append(path, n), " -> "))
		case 2:
			return nil
		}
		s, ok := p.Services[n]
		if !ok {
			return fmt.Errorf("services: %q depends on a missing service", path[len(path)-1])
		}
		state[n] = 1
		deps := make([]string, 0, len(s.DependsOn))
		for d := range s.DependsOn {
			deps = append(deps, d)
		}
		sort.Strings(deps)
		for _, d := range deps {
			if err := visit(d, append(path, n)); err != nil {
				return err
			}
		}
		state[n] = 2
		order = append(order, n)
		return nil
	}
	for _, n := range p.ServiceNames() {
		if err := visit(n, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// Container returns the container name of service.
func (r *Runner) Container(service string) string { return r.p.Name + "-" + service + "-1" }

// Order returns the services in the order Up starts them.
func (r *Runner) Order() []string { return append([]string(nil), r.order...) }

// RunArgs returns the podman run arguments of service, without the
// environment (Up passes it in a file, so that secrets never reach a
// command line).
func (r *Runner) RunArgs(service string) ([]string, error) {
	s, ok := r.p.Services[service]
	if !ok {
		return nil, fmt.Errorf("service %q: not in project %s", service, r.p.Name)
	}
	a := []string{"run", "--detach", "--name", r.Container(service),
		"--label", Label + "=" + r.p.Name, "--label", "io.ferry.compose.service=" + service}
	a = append(a, r.extra...)
	nets := make([]string, 0, len(s.Networks))
	for n := range s.Networks {
		nets = append(nets, n)
	}
	sort.Strings(nets)
	for _, n := range nets {
		a = append(a, "--network", r.p.Networks[n].Name, "--network-alias", service)
	}
	for _, pt := range s.Ports {
		spec := strconv.FormatUint(uint64(pt.Target), 10)
		if pt.Published != "" {
			spec = pt.Published + ":" + spec
			if pt.HostIP != "" {
				spec = pt.HostIP + ":" + spec
			}
		}
		if pt.Protocol != "" {
			spec += "/" + pt.Protocol
		}
		a = append(a, "--publish", spec)
	}
	for _, v := range s.Volumes {
		vol, ok := r.p.Volumes[v.Source]
		if !ok {
			return nil, fmt.Errorf("service %q: volume %q is not declared under volumes", service, v.Source)
		}
		spec := vol.Name + ":" + v.Target
		if v.ReadOnly {
			spec += ":ro"
		}
		a = append(a, "--volume", spec)
	}
	for _, t := range s.Tmpfs {
		a = append(a, "--tmpfs", t)
	}
	if s.ReadOnly {
		a = append(a, "--read-only")
	}
	for _, o := range s.SecurityOpt {
		a = append(a, "--security-opt", o)
	}
	for _, c := range s.CapDrop {
		a = append(a, "--cap-drop", c)
	}
	for _, c := range s.CapAdd {
		a = append(a, "--cap-add", c)
	}
	if s.User != "" {
		a = append(a, "--user", s.User)
	}
	if s.StopSignal != "" {
		a = append(a, "--stop-signal", s.StopSignal)
	}
	a = append(a, "--stop-timeout", strconv.Itoa(int(r.grace(service).Seconds())))
	if s.Restart != "" {
		a = append(a, "--restart", s.Restart)
	}
	if hc := s.HealthCheck; hc != nil && !hc.Disable && len(hc.Test) > 0 {
		cmd, err := healthCmd(service, hc.Test)
		if err != nil {
			return nil, err
		}
		a = append(a, "--health-cmd", cmd)
		if hc.Interval != nil {
			a = append(a, "--health-interval", time.Duration(*hc.Interval).String())
		}
		if hc.Timeout != nil {
			a = append(a, "--health-timeout", time.Duration(*hc.Timeout).String())
		}
		if hc.Retries != nil {
			a = append(a, "--health-retries", strconv.FormatUint(*hc.Retries, 10))
		}
		if hc.StartPeriod != nil {
			a = append(a, "--health-start-period", time.Duration(*hc.StartPeriod).String())
		}
	}
	if len(s.Entrypoint) > 0 {
		ep, err := json.Marshal([]string(s.Entrypoint))
		if err != nil {
			return nil, err
		}
		a = append(a, "--entrypoint", string(ep))
	}
	a = append(a, s.Image)
	a = append(a, s.Command...)
	return a, nil
}

// healthCmd renders a compose healthcheck test as podman's --health-cmd.
// podman (4.3) reads a JSON array of two or more words without a leading
// "CMD" as an exec-form test, a plain string as a shell one; given
// ["CMD", ...] it splits the JSON text on spaces instead, and makes a
// one-word array a shell test, so both are avoided.
func healthCmd(service string, test types.HealthCheckTest) (string, error) {
	switch test[0] {
	case "CMD":
		if len(test) < 3 {
			return "", fmt.Errorf("service %q: healthcheck.test: give the command at least one argument (podman runs a one-word test through /bin/sh)", service)
		}
		b, err := json.Marshal([]string(test[1:]))
		return string(b), err
	case "CMD-SHELL":
		if len(test) != 2 {
			return "", fmt.Errorf("service %q: healthcheck.test: CMD-SHELL takes one command string", service)
		}
		return test[1], nil
	case "NONE":
		return "none", nil
	}
	return "", fmt.Errorf("service %q: healthcheck.test starts with %q; want CMD, CMD-SHELL or NONE", service, test[0])
}

// grace is the stop timeout of service: stop_grace_period, else 10 s as
// Compose does.
func (r *Runner) grace(service string) time.Duration {
	if g := r.p.Services[service].StopGracePeriod; g != nil {
		return time.Duration(*g)
	}
	return 10 * time.Second
}

// Up creates the project's networks and volumes, then starts each service
// once the conditions it depends on hold.
func (r *Runner) Up(ctx context.Context, envDir string) error {
	for _, n := range r.p.NetworkNames() {
		if _, err := r.run(ctx, "network", "create", "--label", Label+"="+r.p.Name, r.p.Networks[n].Name); err != nil {
			return err
		}
	}
	for _, n := range r.p.VolumeNames() {
		if _, err := r.run(ctx, "volume", "create", "--label", Label+"="+r.p.Name, r.p.Volumes[n].Name); err != nil {
			return err
		}
	}
	for _, n := range r.order {
		s := r.p.Services[n]
		deps := make([]string, 0, len(s.DependsOn))
		for d := range s.DependsOn {
			deps = append(deps, d)
		}
		sort.Strings(deps)
		for _, d := range deps {
			if err := r.wait(ctx, d, s.DependsOn[d].Condition); err != nil {
				return fmt.Errorf("starting %s: %w", n, err)
			}
		}
		args, err := r.RunArgs(n)
		if err != nil {
			return err
		}
		envFile, err := writeEnv(envDir, s.Environment)
		if err != nil {
			return fmt.Errorf("starting %s: %w", n, err)
		}
		// --env-file goes right after "run".
		args = append([]string{args[0], "--env-file", envFile}, args[1:]...)
		_, err = r.run(ctx, args...)
		os.Remove(envFile)
		if err != nil {
			return fmt.Errorf("starting %s: %w", n, err)
		}
	}
	return nil
}

func (r *Runner) wait(ctx context.Context, service, condition string) error {
	switch condition {
	case types.ServiceConditionHealthy:
		return r.WaitHealthy(ctx, service)
	case types.ServiceConditionCompletedSuccessfully:
		out, err := r.run(ctx, "wait", r.Container(service))
		if err != nil {
			return err
		}
		if code := strings.TrimSpace(out); code != "0" {
			logs, _ := r.Logs(ctx, service)
			return fmt.Errorf("waiting for %s to complete: exit code %s\n%s", service, code, logs)
		}
	}
	return nil
}

// WaitHealthy runs service's healthcheck every interval until it passes,
// as Compose waits for service_healthy: it fails once more than retries
// (times WithHealthSlack's factor) checks have failed after start_period, when the container
// stops running or has been restarted, or when ctx ends.
func (r *Runner) WaitHealthy(ctx context.Context, service string) error {
	hc := r.p.Services[service].HealthCheck
	if hc == nil || hc.Disable || len(hc.Test) == 0 {
		return fmt.Errorf("waiting for %s to be healthy: it has no healthcheck", service)
	}
	interval, retries, startPeriod := 30*time.Second, uint64(3), time.Duration(0)
	if hc.Interval != nil {
		interval = time.Duration(*hc.Interval)
	}
	if hc.Retries != nil {
		retries = *hc.Retries
	}
	if hc.StartPeriod != nil {
		startPeriod = time.Duration(*hc.StartPeriod)
	}
	name := r.Container(service)
	began := time.Now()
	var failed uint64
	for {
		out, err := r.run(ctx, "healthcheck", "run", name)
		if err == nil {
			return nil
		}
		st, _ := r.run(ctx, "inspect", "--format", "{{.State.Status}} {{.RestartCount}}", name)
		if f := strings.Fields(st); len(f) != 2 || f[0] != "running" || f[1] != "0" {
			logs, _ := r.Logs(ctx, service)
			return fmt.Errorf("waiting for %s to be healthy: container state and restarts %q\n%s", service, strings.TrimSpace(st), logs)
		}
		if time.Since(began) >= startPeriod {
			failed++
		}
		if failed > retries*r.slack {
			logs, _ := r.Logs(ctx, service)
			return fmt.Errorf("waiting for %s to be healthy: unhealthy after %d failed checks (%s %s)\n%s", service, failed, strings.TrimSpace(out), err, logs)
		}
		select {
		case <-ctx.Done():
			logs, _ := r.Logs(context.Background(), service)
			return fmt.Errorf("waiting for %s to be healthy: %w\n%s", service, ctx.Err(), logs)
		case <-time.After(interval):
		}
	}
}

// Health returns podman's recorded health status of service.
func (r *Runner) Health(ctx context.Context, service string) (string, error) {
	out, err := r.run(ctx, "inspect", "--format", "{{.State.Health.Status}}", r.Container(service))
	return strings.TrimSpace(out), err
}

// State returns the container state of service (running, exited...).
func (r *Runner) State(ctx context.Context, service string) (string, error) {
	out, err := r.run(ctx, "inspect", "--format", "{{.State.Status}}", r.Container(service))
	return strings.TrimSpace(out), err
}

// Signal sends the service's stop_signal (SIGTERM by default) without
// waiting: what a stop does first.
func (r *Runner) Signal(ctx context.Context, service string) error {
	sig := r.p.Services[service].StopSignal
	if sig == "" {
		sig = "SIGTERM"
	}
	_, err := r.run(ctx, "kill", "--signal", sig, r.Container(service))
	return err
}

// Stop stops service as Compose does: its stop signal, then SIGKILL after
// stop_grace_period. It returns the container's exit code.
func (r *Runner) Stop(ctx context.Context, service string) (int, error) {
	g := int(r.grace(service).Seconds())
	if _, err := r.run(ctx, "stop", "--time", strconv.Itoa(g), r.Container(service)); err != nil {
		return 0, err
	}
	return r.ExitCode(ctx, service)
}

// ExitCode waits for service's container to exit and returns its code.
func (r *Runner) ExitCode(ctx context.Context, service string) (int, error) {
	out, err := r.run(ctx, "wait", r.Container(service))
	if err != nil {
		return 0, err
	}
	code, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		return 0, fmt.Errorf("reading the exit code of %s: %q", service, out)
	}
	return code, nil
}

// Logs returns the container's output.
func (r *Runner) Logs(ctx context.Context, service string) (string, error) {
	out, err := exec.CommandContext(ctx, r.podman, "logs", r.Container(service)).CombinedOutput()
	return string(out), err
}

// Down removes every container, volume and network labelled with the
// project, whatever state Up left them in.
func (r *Runner) Down(ctx context.Context) error {
	var errs []error
	filter := "label=" + Label + "=" + r.p.Name
	if out, err := r.run(ctx, "ps", "--all", "--quiet", "--filter", filter); err != nil {
		errs = append(errs, err)
	} else if ids := strings.Fields(out); len(ids) > 0 {
		if _, err := r.run(ctx, append([]string{"rm", "--force", "--time", "2"}, ids...)...); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := r.run(ctx, "volume", "prune", "--force", "--filter", filter); err != nil {
		errs = append(errs, err)
	}
	if _, err := r.run(ctx, "network", "prune", "--force", "--filter", filter); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (r *Runner) run(ctx context.Context, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, r.podman, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("running podman %s: %w: %s", args[0]+" "+firstArg(args), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

func firstArg(args []string) string {
	if len(args) > 1 {
		return args[1]
	}
	return ""
}

// writeEnv writes env as a podman env file readable by the owner only.
func writeEnv(dir string, env types.MappingWithEquals) (string, error) {
	f, err := os.CreateTemp(dir, "env-")
	if err != nil {
		return "", fmt.Errorf("writing the environment file: %w", err)
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		v := env[k]
		if v == nil {
			continue
		}
		if strings.ContainsAny(*v, "\n") {
			f.Close()
			os.Remove(f.Name())
			return "", fmt.Errorf("environment %s: a value with a newline cannot be passed to podman", k)
		}
		b.WriteString(k + "=" + *v + "\n")
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", fmt.Errorf("writing the environment file: %w", err)
	}
	return f.Name(), f.Close()
}
