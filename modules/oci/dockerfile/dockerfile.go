// Package dockerfile reads what a Dockerfile's final stage declares about
// the image it makes (user, entrypoint, command, exposed ports, labels,
// environment, working directory), with BuildKit's own parser. The
// daemonless build takes these values so that its image and the
// Dockerfile's cannot drift apart.
package dockerfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// Stage is what the final stage declares. Values are expanded with the
// stage's ARG defaults and ENV values, as BuildKit would.
type Stage struct {
	// From is the base of the final stage as written (after expansion).
	From string
	// Name is the stage's "AS" name, if any.
	Name string
	// User is the last USER.
	User string
	// Entrypoint is the last ENTRYPOINT; shell form becomes
	// ["/bin/sh", "-c", "..."] as in Docker.
	Entrypoint []string
	// Cmd is the last CMD, same conversion; a CMD before an ENTRYPOINT in
	// the stage is reset, as in Docker.
	Cmd []string
	// ExposedPorts are "port/proto" (proto defaults to tcp), sorted.
	ExposedPorts []string
	// Labels are every LABEL, later ones winning.
	Labels map[string]string
	// Env is every ENV as "KEY=value", in order, later ones replacing.
	Env []string
	// WorkingDir is the last WORKDIR.
	WorkingDir string
	// Line is the 1-based line of the final FROM.
	Line int
}

// Read parses the Dockerfile at path and returns its final stage, with ARG
// defaults as written.
func Read(path string) (Stage, error) { return ReadWithArgs(path, nil) }

// ReadWithArgs is Read with build arguments that override ARG defaults, as
// `docker build --build-arg` does (e.g. GIT_SHA for a revision label).
func ReadWithArgs(path string, args map[string]string) (Stage, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Stage{}, fmt.Errorf("reading Dockerfile %q: %w", path, err)
	}
	s, err := ParseWithArgs(b, args)
	if err != nil {
		return Stage{}, fmt.Errorf("reading Dockerfile %q: %w", path, err)
	}
	return s, nil
}

type env struct {
	keys []string
	vals map[string]string
	args map[string]string // build arguments, override ARG defaults
}

func (e *env) Get(k string) (string, bool) { v, ok := e.vals[k]; return v, ok }
func (e *env) Keys() []string              { return e.keys }
func (e *env) set(k, v string) {
	if _, ok := e.vals[k]; !ok {
		e.keys = append(e.keys, k)
	}
	e.vals[k] = v
}

// Parse reads Dockerfile content and returns its final stage.
func Parse(content []byte) (Stage, error) { return ParseWithArgs(content, nil) }

// ParseWithArgs is Parse with build arguments overriding ARG defaults. Only
// declared ARGs take them, as in Docker.
func ParseWithArgs(content []byte, args map[string]string) (Stage, error) {
	res, err := parser.Parse(bytes.NewReader(content))
	if err != nil {
		return Stage{}, fmt.Errorf("parsing: %w", err)
	}
	lex := shell.NewLex(res.EscapeToken)
	global := &env{vals: map[string]string{}, args: args}
	var final []*parser.Node
	var from *parser.Node
	for _, n := range res.AST.Children {
		switch strings.ToLower(n.Value) {
		case "from":
			from, final = n, nil
		case "arg":
			if from == nil {
				if err := applyArg(lex, global, n); err != nil {
					return Stage{}, err
				}
				continue
			}
			final = append(final, n)
		default:
			if from == nil {
				return Stage{}, fmt.Errorf("line %d: %s before the first FROM", n.StartLine, strings.ToUpper(n.Value))
			}
			final = append(final, n)
		}
	}
	if from == nil {
		return Stage{}, errors.New("no FROM instruction")
	}
	st := Stage{Labels: map[string]string{}, Line: from.StartLine}
	if from.Next != nil {
		st.From, _, _ = lex.ProcessWord(from.Next.Value, global)
		if as := from.Next.Next; as != nil && strings.EqualFold(as.Value, "as") && as.Next != nil {
			st.Name = as.Next.Value
		}
	}
	stageEnv := &env{vals: map[string]string{}, args: args}
	word := func(n *parser.Node, s string) (string, error) {
		v, _, err := lex.ProcessWord(s, stageEnv)
		if err != nil {
			return "", fmt.Errorf("line %d: expanding %q: %w", n.StartLine, s, err)
		}
		return v, nil
	}
	for _, n := range final {
		switch strings.ToLower(n.Value) {
		case "arg":
			if err := applyArg(lex, stageEnv, n); err != nil {
				return Stage{}, err
			}
			// An ARG without default re-imports the global value.
			for a := n.Next; a != nil; a = a.Next {
				k, _, hasDefault := strings.Cut(a.Value, "=")
				if _, given := args[k]; given {
					continue
				}
				if v, ok := global.vals[k]; ok && !hasDefault {
					stageEnv.set(k, v)
				}
			}
		case "env":
			for kv := n.Next; kv != nil && kv.Next != nil; kv = kv.Next.Next.Next {
				v, err := word(n, kv.Next.Value)
				if err != nil {
					return Stage{}, err
				}
				stageEnv.set(kv.Value, v)
				st.Env = slices.DeleteFunc(st.Env, func(e string) bool { return strings.HasPrefix(e, kv.Value+"=") })
				st.Env = append(st.Env, kv.Value+"="+v)
				if kv.Next.Next == nil {
					break
				}
			}
		case "label":
			for kv := n.Next; kv != nil && kv.Next != nil; kv = kv.Next.Next.Next {
				k, err := word(n, kv.Value)
				if err != nil {
					return Stage{}, err
				}
				v, err := word(n, kv.Next.Value)
				if err != nil {
					return Stage{}, err
				}
				st.Labels[k] = v
				if kv.Next.Next == nil {
					break
				}
			}
		case "user":
			if n.Next == nil {
				return Stage{}, fmt.Errorf("line %d: USER without a value", n.StartLine)
			}
			v, err := word(n, n.Next.Value)
			if err != nil {
				return Stage{}, err
			}
			st.User = v
		case "workdir":
			if n.Next == nil {
				return Stage{}, fmt.Errorf("line %d: WORKDIR without a value", n.StartLine)
			}
			v, err := word(n, n.Next.Value)
			if err != nil {
				return Stage{}, err
			}
			st.WorkingDir = v
		case "expose":
			for p := n.Next; p != nil; p = p.Next {
				v, err := word(n, p.Value)
				if err != nil {
					return Stage{}, err
				}
				port, proto, ok := strings.Cut(v, "/")
				if !ok {
					proto = "tcp"
				}
				entry := port + "/" + strings.ToLower(proto)
				if !slices.Contains(st.ExposedPorts, entry) {
					st.ExposedPorts = append(st.ExposedPorts, entry)
				}
			}
		case "entrypoint":
			st.Entrypoint = command(n)
			st.Cmd = nil
		case "cmd":
			st.Cmd = command(n)
		}
	}
	slices.Sort(st.ExposedPorts)
	return st, nil
}

func applyArg(lex *shell.Lex, e *env, n *parser.Node) error {
	for a := n.Next; a != nil; a = a.Next {
		k, v, ok := strings.Cut(a.Value, "=")
		if given, isArg := e.args[k]; isArg {
			e.set(k, given)
			continue
		}
		if !ok {
			continue
		}
		exp, _, err := lex.ProcessWord(v, e)
		if err != nil {
			return fmt.Errorf("line %d: expanding ARG %s: %w", n.StartLine, k, err)
		}
		e.set(k, exp)
	}
	return nil
}

// command returns an ENTRYPOINT or CMD in exec form.
func command(n *parser.Node) []string {
	var args []string
	for a := n.Next; a != nil; a = a.Next {
		args = append(args, a.Value)
	}
	if n.Attributes["json"] {
		if args == nil {
			return []string{}
		}
		return args
	}
	return []string{"/bin/sh", "-c", strings.Join(args, " ")}
}

// String renders the stage as JSON, for error messages and goldens.
func (s Stage) String() string {
	b, _ := json.MarshalIndent(s, "", "  ")
	return string(b)
}
