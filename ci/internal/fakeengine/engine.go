// Package fakeengine is a stand-in Dagger engine endpoint for the module's
// tests: a loopback HTTP server that speaks the GraphQL the dagger.io/dagger
// client sends, records every query, and answers with plausible values (IDs,
// a digest-pinned address for publish, a commit for git refs), so a module
// function runs to completion and its pipeline can be asserted.
//
// It executes nothing: there is no engine on this machine. Queries that
// continue from an ID (node(id: ...)) are expanded into the full chain that
// produced the ID, so a test sees each pipeline from its root.
package fakeengine

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// DefaultCommit is what the engine answers for GitRef.commit.
const DefaultCommit = "0123456789abcdef0123456789abcdef01234567"

// Field is one selection of a query chain with its arguments, decoded to
// Go values: string, bool, int64, float64, []any, map[string]any; enums
// arrive as their names (strings).
type Field struct {
	Name string
	Args map[string]any
}

// Arg returns the argument name as a string ("" when absent or not a string).
func (f Field) Arg(name string) string {
	s, _ := f.Args[name].(string)
	return s
}

// String renders the field with its arguments sorted by name.
func (f Field) String() string {
	if len(f.Args) == 0 {
		return f.Name
	}
	keys := make([]string, 0, len(f.Args))
	for k := range f.Args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		v, _ := json.Marshal(f.Args[k])
		parts[i] = k + ":" + string(v)
	}
	return f.Name + "(" + strings.Join(parts, ",") + ")"
}

// Chain is a query as a path of fields from the root to the leaf.
type Chain []Field

// String renders the chain as "a(x:1).b.c".
func (c Chain) String() string {
	parts := make([]string, len(c))
	for i, f := range c {
		parts[i] = f.String()
	}
	return strings.Join(parts, ".")
}

// Leaf is the last field, the one whose value the query asks for.
func (c Chain) Leaf() Field {
	if len(c) == 0 {
		return Field{}
	}
	return c[len(c)-1]
}

// All returns every field named name, in chain order.
func (c Chain) All(name string) []Field {
	var out []Field
	for _, f := range c {
		if f.Name == name {
			out = append(out, f)
		}
	}
	return out
}

// Query is one recorded request: the raw text and its chain with IDs expanded.
type Query struct {
	Raw   string
	Chain Chain
}

// Answer decides the value of a query's leaf. It returns handled=false to
// leave the query to the default answers; a non-nil error becomes a GraphQL
// error (use ExecError for a failed exec).
type Answer func(q Query) (value any, handled bool, err error)

// Engine is a running stand-in endpoint.
type Engine struct {
	// Port and Token are what the client reads from DAGGER_SESSION_PORT and
	// DAGGER_SESSION_TOKEN.
	Port  int
	Token string

	mu      sync.Mutex
	queries []Query
	ids     map[string]Chain
	answers []Answer
}

// Start serves a stand-in endpoint on loopback until the test ends and
// points the stand-in client at it through DAGGER_SESSION_PORT and
// DAGGER_SESSION_TOKEN (so the test cannot run in parallel).
func Start(t testing.TB, answers ...Answer) *Engine {
	t.Helper()
	token := make([]byte, 16)
	if _, err := rand.Read(token); err != nil {
		t.Fatalf("reading a session token: %v", err)
	}
	e := &Engine{Token: hex.EncodeToString(token), ids: map[string]Chain{}, answers: answers}
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatalf("reading the stand-in port: %v", err)
	}
	e.Port, _ = strconv.Atoi(port)
	t.Setenv("DAGGER_SESSION_PORT", port)
	t.Setenv("DAGGER_SESSION_TOKEN", e.Token)
	return e
}

// Handle adds an answer, consulted after those given earlier.
func (e *Engine) Handle(a Answer) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.answers = append(e.answers, a)
}

// Queries returns the recorded queries in the order they arrived.
func (e *Engine) Queries() []Query {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Query(nil), e.queries...)
}

// Leaves returns the recorded queries whose leaf is named leaf.
func (e *Engine) Leaves(leaf string) []Query {
	var out []Query
	for _, q := range e.Queries() {
		if q.Chain.Leaf().Name == leaf {
			out = append(out, q)
		}
	}
	return out
}

// Resolve returns the chain that produced an ID the engine handed out.
func (e *Engine) Resolve(id string) (Chain, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.ids[id]
	return c, ok
}

type gqlRequest struct {
	Query         string `json:"query"`
	OperationName string `json:"operationName"`
}

type gqlError struct {
	Message    string         `json:"message"`
	Path       []string       `json:"path,omitempty"`
	Extensions map[string]any `json:"extensions,omitempty"`
}

// ServeHTTP answers one GraphQL request.
func (e *Engine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user, _, ok := r.BasicAuth()
	if !ok || user != e.Token {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/query" {
		http.Error(w, "only POST /query", http.StatusNotFound)
		return
	}
	var req gqlRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, "decoding request: "+err.Error(), http.StatusBadRequest)
		return
	}
	path, err := parseChain(req.Query)
	if err != nil {
		writeJSON(w, map[string]any{"errors": []gqlError{{Message: "parsing query: " + err.Error()}}})
		return
	}
	q := Query{Raw: req.Query, Chain: e.expand(path)}
	e.mu.Lock()
	e.queries = append(e.queries, q)
	e.mu.Unlock()

	value, err := e.answer(q)
	if err != nil {
		ge := gqlError{Message: err.Error(), Path: names(path)}
		if x, ok := err.(*execError); ok {
			ge.Extensions = x.extensions()
		}
		writeJSON(w, map[string]any{"data": nil, "errors": []gqlError{ge}})
		return
	}
	// Nest the value along the response keys of the raw chain.
	data := value
	for i := len(path) - 1; i >= 0; i-- {
		data = map[string]any{path[i].Name: data}
	}
	writeJSON(w, map[string]any{"data": data})
}

func names(c Chain) []string {
	out := make([]string, len(c))
	for i, f := range c {
		out[i] = f.Name
	}
	return out
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// expand replaces a leading node(id: X) by the chain that produced X.
func (e *Engine) expand(path Chain) Chain {
	if len(path) == 0 || path[0].Name != "node" {
		return path
	}
	e.mu.Lock()
	base, ok := e.ids[path[0].Arg("id")]
	e.mu.Unlock()
	if !ok {
		return path
	}
	return append(append(Chain{}, base...), path[1:]...)
}

func (e *Engine) answer(q Query) (any, error) {
	e.mu.Lock()
	answers := append([]Answer(nil), e.answers...)
	e.mu.Unlock()
	for _, a := range answers {
		if v, handled, err := a(q); handled || err != nil {
			return v, err
		}
	}
	leaf := q.Chain.Leaf()
	parent := q.Chain[:len(q.Chain)-1]
	switch leaf.Name {
	case "id", "sync":
		return e.newID(parent), nil
	case "publish":
		sum := sha256.Sum256([]byte(parent.String()))
		return leaf.Arg("address") + "@sha256:" + hex.EncodeToString(sum[:]), nil
	case "exists", "isEmpty":
		return true, nil
	case "commit":
		return DefaultCommit, nil
	case "entries":
		return []string{}, nil
	case "exitCode":
		return 0, nil
	case "stdout", "stderr", "contents":
		return "", nil
	}
	return nil, nil
}

func (e *Engine) newID(c Chain) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	id := fmt.Sprintf("fake-id-%d", len(e.ids)+1)
	e.ids[id] = append(Chain{}, c...)
	return id
}

// parseChain reads a query made of one path of single selections, as the
// dagger.io/dagger query builder writes them; inline fragments are skipped
// (they add no level to the response).
func parseChain(src string) (Chain, error) {
	doc, err := parser.ParseQuery(&ast.Source{Input: src})
	if err != nil {
		return nil, err
	}
	if len(doc.Operations) != 1 {
		return nil, fmt.Errorf("want one operation, got %d", len(doc.Operations))
	}
	var chain Chain
	set := doc.Operations[0].SelectionSet
	for len(set) > 0 {
		if len(set) != 1 {
			return nil, fmt.Errorf("want one selection per level, got %d", len(set))
		}
		switch s := set[0].(type) {
		case *ast.Field:
			args := map[string]any{}
			for _, a := range s.Arguments {
				args[a.Name] = value(a.Value)
			}
			chain = append(chain, Field{Name: s.Name, Args: args})
			set = s.SelectionSet
		case *ast.InlineFragment:
			set = s.SelectionSet
		default:
			return nil, fmt.Errorf("unsupported selection %T", s)
		}
	}
	return chain, nil
}

func value(v *ast.Value) any {
	switch v.Kind {
	case ast.IntValue:
		n, _ := strconv.ParseInt(v.Raw, 10, 64)
		return n
	case ast.FloatValue:
		f, _ := strconv.ParseFloat(v.Raw, 64)
		return f
	case ast.BooleanValue:
		return v.Raw == "true"
	case ast.NullValue:
		return nil
	case ast.ListValue:
		out := make([]any, len(v.Children))
		for i, c := range v.Children {
			out[i] = value(c.Value)
		}
		return out
	case ast.ObjectValue:
		out := map[string]any{}
		for _, c := range v.Children {
			out[c.Name] = value(c.Value)
		}
		return out
	default: // strings, block strings, enums, variables
		return v.Raw
	}
}

// execError is a failed exec, reported as the engine reports one.
type execError struct {
	cmd            []string
	exitCode       int
	stdout, stderr string
}

// ExecError returns the error the engine reports when a command exits
// non-zero; the client turns it into a *dagger.ExecError.
func ExecError(cmd []string, exitCode int, stdout, stderr string) error {
	return &execError{cmd: cmd, exitCode: exitCode, stdout: stdout, stderr: stderr}
}

func (x *execError) Error() string {
	return fmt.Sprintf("process %q did not complete successfully: exit code: %d", strings.Join(x.cmd, " "), x.exitCode)
}

func (x *execError) extensions() map[string]any {
	cmd := make([]any, len(x.cmd))
	for i, c := range x.cmd {
		cmd[i] = c
	}
	return map[string]any{"_type": "EXEC_ERROR", "cmd": cmd, "exitCode": x.exitCode, "stdout": x.stdout, "stderr": x.stderr}
}
