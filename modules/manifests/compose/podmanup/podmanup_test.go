package podmanup_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/ferry-ci/ferry/modules/manifests/compose/podmanup"
)

const digestRef = "localhost/x/app@sha256:07c346c1b0418952773dc6c4b1a7ed36a7d2e4152e606b5b0e778b42d04c8f0a"

func load(t *testing.T, src string) *types.Project {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir: dir, ConfigFiles: []types.ConfigFile{{Filename: file}}, Environment: map[string]string{},
	}, func(o *loader.Options) { o.SetProjectName("demo", true) })
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRunArgs checks the podman arguments of the bridge's worker: every
// field the bridge relies on reaches podman, the healthcheck in exec form
// and the grace period as the stop timeout.
func TestRunArgs(t *testing.T) {
	p := load(t, `
services:
  db:
    image: `+digestRef+`
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -h 127.0.0.1"]
    volumes: ["data:/var/lib/data"]
  app:
    image: `+digestRef+`
    command: ["serve", "--flag"]
    environment: {SECRET: s3cret}
    ports: ["127.0.0.1:19000:9000"]
    depends_on:
      db: {condition: service_healthy}
    healthcheck:
      test: ["CMD", "/usr/local/bin/app", "probe", "http://127.0.0.1:9000/readyz"]
      interval: 5s
      retries: 3
      start_period: 30s
    stop_signal: SIGTERM
    stop_grace_period: 30s
    read_only: true
    tmpfs: [/tmp]
    security_opt: ["no-new-privileges:true"]
    cap_drop: [ALL]
    user: "65532:65532"
    restart: unless-stopped
volumes:
  data:
`)
	r, err := podmanup.New("podman", p)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Order(); !slices.Equal(got, []string{"db", "app"}) {
		t.Errorf("order %v, want db before app", got)
	}
	args, err := r.RunArgs("app")
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Join(args, " ")
	for _, want := range []string{
		"--name demo-app-1", "--network demo_default --network-alias app", "--publish 127.0.0.1:19000:9000/tcp",
		"--tmpfs /tmp", "--read-only", "--security-opt no-new-privileges:true", "--cap-drop ALL",
		"--user 65532:65532", "--stop-signal SIGTERM", "--stop-timeout 30", "--restart unless-stopped",
		`--health-cmd ["/usr/local/bin/app","probe","http://127.0.0.1:9000/readyz"]`,
		"--health-interval 5s", "--health-retries 3", "--health-start-period 30s",
		digestRef + " serve --flag",
	} {
		if !strings.Contains(line, want) {
			t.Errorf("podman run args lack %q:\n%s", want, line)
		}
	}
	if strings.Contains(line, "s3cret") {
		t.Errorf("a secret reached the command line: %s", line)
	}
	db, err := r.RunArgs("db")
	if err != nil {
		t.Fatal(err)
	}
	if line := strings.Join(db, " "); !strings.Contains(line, "--volume demo_data:/var/lib/data") ||
		!strings.Contains(line, "--health-cmd pg_isready -h 127.0.0.1") || !strings.Contains(line, "--stop-timeout 10") {
		t.Errorf("db args: %s", line)
	}
}

// TestRefused: what podmanup would run differently from Compose is refused
// with the service and the field named.
func TestRefused(t *testing.T) {
	tests := []struct {
		name, service, want string
	}{
		{name: "build", service: "build: .", want: `service "app": build not run by podmanup`},
		{name: "privileged", service: "privileged: true", want: `service "app": privileged not run by podmanup`},
		{name: "bind mount", service: "volumes: [\"./data:/data\"]", want: `volume "/data" is of type bind`},
		{name: "one-word exec healthcheck", service: "healthcheck: {test: [\"CMD\", \"check\"]}", want: "healthcheck.test: give the command at least one argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := load(t, "services:\n  app:\n    image: "+digestRef+"\n    "+tt.service+"\n")
			r, err := podmanup.New("podman", p)
			if err == nil {
				_, err = r.RunArgs("app")
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
