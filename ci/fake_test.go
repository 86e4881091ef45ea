package main

import (
	"slices"
	"strings"
	"testing"

	"dagger/ci/internal/fakeengine"
)

// newFakeCi returns the module's main object over a source tree and git
// repository that the stand-in engine knows only by ID.
func newFakeCi() *Ci {
	return New(dag.LoadDirectoryFromID("source-id"), dag.LoadGitRepositoryFromID("repo-id"))
}

// onlyLeaf returns the single recorded query whose leaf is leaf.
func onlyLeaf(t *testing.T, e *fakeengine.Engine, leaf string) fakeengine.Query {
	t.Helper()
	qs := e.Leaves(leaf)
	if len(qs) != 1 {
		t.Fatalf("got %d %q queries, want 1; queries:\n%s", len(qs), leaf, dump(e))
	}
	return qs[0]
}

// resolve returns the chain behind an ID argument.
func resolve(t *testing.T, e *fakeengine.Engine, f fakeengine.Field, arg string) fakeengine.Chain {
	t.Helper()
	c, ok := e.Resolve(f.Arg(arg))
	if !ok {
		t.Fatalf("%s: argument %s = %q is no ID the engine handed out", f, arg, f.Arg(arg))
	}
	return c
}

// names lists the field names of a chain.
func names(c fakeengine.Chain) []string {
	var out []string
	for _, f := range c {
		out = append(out, f.Name)
	}
	return out
}

// strs converts a decoded GraphQL list of strings.
func strs(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func dump(e *fakeengine.Engine) string {
	var s string
	for _, q := range e.Queries() {
		s += "  " + q.Chain.String() + "\n"
	}
	return s
}

// answer returns a fakeengine.Answer for queries whose leaf is leaf and
// whose chain passes match.
func answer(leaf string, match func(fakeengine.Chain) bool, value any, err error) fakeengine.Answer {
	return func(q fakeengine.Query) (any, bool, error) {
		if q.Chain.Leaf().Name != leaf || !match(q.Chain) {
			return nil, false, nil
		}
		return value, true, err
	}
}

// pathIs matches a leaf whose path argument is path.
func pathIs(path string) func(fakeengine.Chain) bool {
	return func(c fakeengine.Chain) bool { return c.Leaf().Arg("path") == path }
}

// withDir matches a chain that mounts a folder of the source whose path is path.
func underService(e *fakeengine.Engine, service string) func(fakeengine.Chain) bool {
	return func(c fakeengine.Chain) bool {
		for _, f := range c.All("withDirectory") {
			if d, ok := e.Resolve(f.Arg("source")); ok && slices.ContainsFunc(d.All("directory"), func(g fakeengine.Field) bool {
				return g.Arg("path") == "services/"+service
			}) {
				return true
			}
		}
		return false
	}
}

// envOf maps the names of the chain's plain variables to their last values.
func envOf(c fakeengine.Chain) map[string]string {
	env := map[string]string{}
	for _, f := range c.All("withEnvVariable") {
		env[f.Arg("name")] = f.Arg("value")
	}
	return env
}

// secretNames maps each secret the chain binds (a withSecretVariable's name
// or a withMountedSecret's path) to the name its secret was set with.
func secretNames(t *testing.T, e *fakeengine.Engine, c fakeengine.Chain) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, f := range c.All("withSecretVariable") {
		out["$"+f.Arg("name")] = resolve(t, e, f, "secret").Leaf().Arg("name")
	}
	for _, f := range c.All("withMountedSecret") {
		out[f.Arg("path")] = resolve(t, e, f, "source").Leaf().Arg("name")
	}
	return out
}

// assertNoSecretInQueries fails when a secret's value travels in any query
// other than the one that sets the secret itself.
func assertNoSecretInQueries(t *testing.T, e *fakeengine.Engine, values ...string) {
	t.Helper()
	for _, q := range e.Queries() {
		for _, v := range values {
			if strings.Contains(q.Raw, v) && (len(q.Chain) != 2 || q.Chain[0].Name != "setSecret") {
				t.Errorf("secret value %q travels in %s", v, q.Chain)
			}
		}
	}
}

// lastExec returns the arguments of the chain's last exec.
func lastExec(c fakeengine.Chain) []string {
	ex := execs(c)
	if len(ex) == 0 {
		return nil
	}
	return ex[len(ex)-1]
}

// stdoutOf answers the stdout of an exec whose arguments contain all of words.
func stdoutOf(value any, err error, words ...string) fakeengine.Answer {
	return answer("stdout", func(c fakeengine.Chain) bool {
		args := lastExec(c)
		for _, w := range words {
			if !slices.Contains(args, w) {
				return false
			}
		}
		return len(args) > 0
	}, value, err)
}
