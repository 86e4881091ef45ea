package dockerfile

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestReadGolden(t *testing.T) {
	paths, err := filepath.Glob("testdata/*.Dockerfile")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			st, err := Read(p)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.MarshalIndent(st, "", "  ")
			got = append(got, '\n')
			golden := strings.TrimSuffix(p, ".Dockerfile") + ".golden.json"
			if *update {
				os.WriteFile(golden, got, 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if string(got) != string(want) {
				t.Errorf("stage of %s:\n%s\nwant:\n%s", p, got, want)
			}
		})
	}
}

func TestFinalStageValues(t *testing.T) {
	st, err := Read("testdata/multistage.Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name, got, want string
	}{
		{name: "user", got: st.User, want: "65532:65532"},
		{name: "entrypoint", got: strings.Join(st.Entrypoint, " "), want: "/usr/local/bin/hello"},
		{name: "cmd after entrypoint", got: strings.Join(st.Cmd, " "), want: "serve"},
		{name: "ports (ARG expanded)", got: strings.Join(st.ExposedPorts, ","), want: "8080/tcp,9090/udp"},
		{name: "quoted label", got: st.Labels["org.opencontainers.image.description"], want: `a tiny "test" service`},
		{name: "label", got: st.Labels["org.opencontainers.image.source"], want: "https://example.com/hello"},
		{name: "build stage label excluded", got: st.Labels["stage"], want: ""},
		{name: "env", got: strings.Join(st.Env, ","), want: "APP_PORT=8080,LOG_FORMAT=json"},
		{name: "name", got: st.Name, want: "runtime"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	sh, err := Read("testdata/shellform.Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(sh.Entrypoint, "|"); got != "/bin/sh|-c|/app --flag value" {
		t.Errorf("shell-form entrypoint = %q", got)
	}
}

func TestBadDockerfiles(t *testing.T) {
	tests := []struct {
		file, want string
	}{
		{file: "before-from.Dockerfile", want: "line 1: USER before the first FROM"},
		{file: "no-from.Dockerfile", want: "no FROM instruction"},
		{file: "label-syntax.Dockerfile", want: "LABEL must have two arguments"},
		{file: "empty.Dockerfile", want: "file with no instructions"},
		{file: "missing.Dockerfile", want: "no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			p := filepath.Join("testdata", "bad", tt.file)
			_, err := Read(p)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), p) {
				t.Errorf("Read(%s) = %v, want an error naming the file and containing %q", p, err, tt.want)
			}
		})
	}
}

func TestBuildArgsOverrideDefaults(t *testing.T) {
	content := []byte(`ARG GIT_SHA=unknown
ARG UNUSED
FROM scratch
ARG GIT_SHA
ARG BUILD_TS=unknown
ARG PORT=8080
LABEL org.opencontainers.image.revision="${GIT_SHA}" org.opencontainers.image.created=$BUILD_TS
EXPOSE $PORT
`)
	tests := []struct {
		name                    string
		args                    map[string]string
		revision, created, port string
	}{
		{name: "defaults", revision: "unknown", created: "unknown", port: "8080/tcp"},
		{name: "global and stage args", args: map[string]string{"GIT_SHA": "abc1234", "BUILD_TS": "2026-11-01T12:00:00Z"}, revision: "abc1234", created: "2026-11-01T12:00:00Z", port: "8080/tcp"},
		{name: "stage arg", args: map[string]string{"PORT": "9000"}, revision: "unknown", created: "unknown", port: "9000/tcp"},
		{name: "undeclared arg ignored", args: map[string]string{"OTHER": "x"}, revision: "unknown", created: "unknown", port: "8080/tcp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := ParseWithArgs(content, tt.args)
			if err != nil {
				t.Fatal(err)
			}
			if st.Labels["org.opencontainers.image.revision"] != tt.revision || st.Labels["org.opencontainers.image.created"] != tt.created || st.ExposedPorts[0] != tt.port {
				t.Errorf("stage %s", st)
			}
		})
	}
}
