package fakeengine

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// post sends one GraphQL query as the dagger.io/dagger client does.
func post(t *testing.T, e *Engine, token, query string) (int, map[string]any) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"query": query, "operationName": "Query"})
	req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:"+strconv.Itoa(e.Port)+"/query", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(token, "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestStartPointsTheClientAtTheEngine(t *testing.T) {
	e := Start(t)
	if got := strconv.Itoa(e.Port); got == "0" || len(e.Token) != 32 {
		t.Fatalf("Start() = port %d, token %q", e.Port, e.Token)
	}
	code, _ := post(t, e, "wrong", `query Query {container{id}}`)
	if code != http.StatusUnauthorized {
		t.Fatalf("a wrong session token got %d, want 401", code)
	}
	if len(e.Queries()) != 0 {
		t.Fatalf("an unauthorized query was recorded")
	}
}

func TestDefaultAnswers(t *testing.T) {
	e := Start(t)
	tests := []struct {
		name, query string
		path        []string
		want        any
	}{
		{name: "id", query: `query Query {container{from(address:"alpine"){id}}}`, path: []string{"container", "from", "id"}, want: "fake-id-1"},
		{name: "publish", query: `query Query {container{publish(address:"r.test/x:t")}}`, path: []string{"container", "publish"}, want: "r.test/x:t@sha256:"},
		{name: "exists", query: `query Query {directory{exists(path:"a")}}`, path: []string{"directory", "exists"}, want: true},
		{name: "commit", query: `query Query {git(url:"x"){head{commit}}}`, path: []string{"git", "head", "commit"}, want: DefaultCommit},
		{name: "unknown leaf", query: `query Query {container{platform}}`, path: []string{"container", "platform"}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, out := post(t, e, e.Token, tt.query)
			var v any = out["data"]
			for _, p := range tt.path {
				m, ok := v.(map[string]any)
				if !ok {
					t.Fatalf("response %v has no %s", out, p)
				}
				v = m[p]
			}
			if s, ok := tt.want.(string); ok && strings.HasSuffix(s, "sha256:") {
				got, _ := v.(string)
				if !strings.HasPrefix(got, s) || len(got) != len(s)+64 {
					t.Fatalf("publish answered %q, want %s<64 hex>", got, s)
				}
				return
			}
			if v != tt.want {
				t.Fatalf("answered %#v, want %#v", v, tt.want)
			}
		})
	}
}

func TestNodeQueriesExpandToTheirChain(t *testing.T) {
	e := Start(t)
	_, out := post(t, e, e.Token, `query Query {container{from(address:"alpine"){withExec(args:["echo","hi"]){sync}}}}`)
	id := out["data"].(map[string]any)["container"].(map[string]any)["from"].(map[string]any)["withExec"].(map[string]any)["sync"].(string)
	post(t, e, e.Token, `query Query {node(id:"`+id+`"){... on Container{stdout}}}`)

	qs := e.Leaves("stdout")
	if len(qs) != 1 {
		t.Fatalf("got %d stdout queries", len(qs))
	}
	want := `container.from(address:"alpine").withExec(args:["echo","hi"]).stdout`
	if got := qs[0].Chain.String(); got != want {
		t.Fatalf("chain = %s, want %s", got, want)
	}
	if c, ok := e.Resolve(id); !ok || c.String() != `container.from(address:"alpine").withExec(args:["echo","hi"])` {
		t.Fatalf("Resolve(%q) = %s, %v", id, c, ok)
	}
}

func TestAnswersAndExecErrors(t *testing.T) {
	e := Start(t, func(q Query) (any, bool, error) {
		if q.Chain.Leaf().Name == "stdout" {
			return nil, true, ExecError([]string{"go", "test"}, 2, "out", "err")
		}
		return nil, false, nil
	})
	e.Handle(func(q Query) (any, bool, error) {
		if q.Chain.Leaf().Name == "exists" {
			return false, true, nil
		}
		return nil, false, nil
	})
	_, out := post(t, e, e.Token, `query Query {container{stdout}}`)
	errs, _ := out["errors"].([]any)
	if len(errs) != 1 {
		t.Fatalf("response %v, want one error", out)
	}
	ext := errs[0].(map[string]any)["extensions"].(map[string]any)
	if ext["_type"] != "EXEC_ERROR" || ext["exitCode"] != float64(2) || ext["stdout"] != "out" || ext["stderr"] != "err" {
		t.Fatalf("extensions = %v", ext)
	}
	_, out = post(t, e, e.Token, `query Query {directory{exists(path:"x")}}`)
	if got := out["data"].(map[string]any)["directory"].(map[string]any)["exists"]; got != false {
		t.Fatalf("exists answered %v, want the handler's false", got)
	}
	if msg, _ := errs[0].(map[string]any)["message"].(string); !strings.Contains(msg, `"go test"`) || !strings.Contains(msg, "exit code: 2") {
		t.Fatalf("message = %q, want the command and its exit code", msg)
	}
}

func TestRefusesQueriesItCannotRecord(t *testing.T) {
	e := Start(t)
	_, out := post(t, e, e.Token, `query Query {container{id platform}}`)
	if errs, _ := out["errors"].([]any); len(errs) != 1 || !strings.Contains(errs[0].(map[string]any)["message"].(string), "one selection per level") {
		t.Fatalf("response %v, want a refusal of sibling selections", out)
	}
}
