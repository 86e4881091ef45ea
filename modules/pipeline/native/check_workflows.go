package native

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/ferry-ci/ferry/modules/pipeline"
)

// workflowsDir holds the GitHub Actions workflows.
const workflowsDir = ".github/workflows"

// workflowcheckDir is the project's workflow rules, a main package of the
// repository's root module (so it runs with go run, not as a library).
const workflowcheckDir = "tools/workflowcheck"

// checkWorkflows lints root/.github/workflows with actionlint (when it is
// installed) and with tools/workflowcheck (when the repository has it).
func checkWorkflows(ctx context.Context, root string, o checkOptions, rep *CheckReport) error {
	var files []string
	for _, pat := range []string{"*.yml", "*.yaml"} {
		m, err := filepath.Glob(filepath.Join(root, filepath.FromSlash(workflowsDir), pat))
		if err != nil {
			return err
		}
		for _, f := range m {
			files = append(files, path.Join(workflowsDir, filepath.Base(f)))
		}
	}
	sort.Strings(files)
	if len(files) == 0 {
		return nil
	}
	bin := o.actionlint
	if bin == "" {
		bin = findTool("actionlint")
	}
	if bin == "" {
		rep.Skipped = append(rep.Skipped, "workflows: actionlint is not installed (run .ci/tools.sh actionlint)")
	} else {
		fs, err := actionlint(ctx, root, bin, files)
		if err != nil {
			return err
		}
		rep.add(fs...)
	}
	if fi, err := os.Stat(filepath.Join(root, filepath.FromSlash(workflowcheckDir))); err == nil && fi.IsDir() {
		fs, err := workflowcheck(ctx, root, o.goCmd)
		if err != nil {
			return err
		}
		rep.add(fs...)
	}
	return nil
}

// actionlintError is one entry of actionlint's -format '{{json .}}'.
type actionlintError struct {
	Message  string `json:"message"`
	Filepath string `json:"filepath"`
	Line     int    `json:"line"`
	Column   int    `json:"column"`
	Kind     string `json:"kind"`
}

func actionlint(ctx context.Context, root, bin string, files []string) ([]Finding, error) {
	cmd := exec.CommandContext(ctx, bin, append([]string{"-no-color", "-format", "{{json .}}"}, files...)...)
	cmd.Dir = root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && (!errors.As(err, &exit) || exit.ExitCode() != 1) {
		return nil, pipeline.MarkTerminal(fmt.Errorf("running %s: %w: %s", bin, err, strings.TrimSpace(stderr.String())))
	}
	var errs []actionlintError
	if out := bytes.TrimSpace(stdout.Bytes()); len(out) > 0 {
		if jerr := json.Unmarshal(out, &errs); jerr != nil {
			return nil, pipeline.MarkTerminal(fmt.Errorf("reading the output of %s: %w", bin, jerr))
		}
	}
	if err != nil && len(errs) == 0 {
		return nil, pipeline.MarkTerminal(fmt.Errorf("running %s: %w: %s", bin, err, strings.TrimSpace(stderr.String())))
	}
	out := make([]Finding, 0, len(errs))
	for _, e := range errs {
		out = append(out, Finding{Check: CheckWorkflows, File: filepath.ToSlash(e.Filepath), Line: e.Line,
			Message: e.Message + " [actionlint " + e.Kind + "]",
			Fix:     "correct the workflow; `actionlint " + filepath.ToSlash(e.Filepath) + "` shows the context"})
	}
	return out, nil
}

// workflowcheckLine is one finding of tools/workflowcheck: "file:line: msg"
// or "file: msg".
var workflowcheckLine = regexp.MustCompile(`^([^:\s]+)(?::(\d+))?: (.+)$`)

func workflowcheck(ctx context.Context, root, goCmd string) ([]Finding, error) {
	cmd := exec.CommandContext(ctx, goCmd, "run", "./"+workflowcheckDir)
	cmd.Dir = root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && (!errors.As(err, &exit) || exit.ExitCode() != 1) {
		return nil, pipeline.MarkTerminal(fmt.Errorf("running go run ./%s: %w\n%s", workflowcheckDir, err, tail(stderr.String(), 20)))
	}
	var out []Finding
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		m := workflowcheckLine.FindStringSubmatch(line)
		if m == nil || strings.HasPrefix(line, " ") {
			if n := len(out); n > 0 && strings.TrimSpace(line) != "" {
				// A message of several lines (a YAML error): keep it whole.
				msg := strings.TrimSuffix(out[n-1].Message, " [workflowcheck]")
				out[n-1].Message = msg + " " + strings.TrimSpace(line) + " [workflowcheck]"
			}
			continue
		}
		file := m[1]
		if !strings.Contains(file, "/") {
			file = path.Join(workflowsDir, file)
		}
		n, _ := strconv.Atoi(m[2])
		out = append(out, Finding{Check: CheckWorkflows, File: file, Line: n, Message: m[3] + " [workflowcheck]",
			Fix: "follow the rule (" + workflowcheckDir + " documents each); `go run ./" + workflowcheckDir + "` re-checks"})
	}
	if err != nil && len(out) == 0 {
		return nil, pipeline.MarkTerminal(fmt.Errorf("running go run ./%s: exit 1 without findings\n%s", workflowcheckDir, tail(stdout.String()+stderr.String(), 20)))
	}
	return out, nil
}
