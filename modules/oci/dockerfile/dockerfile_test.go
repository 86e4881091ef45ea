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
