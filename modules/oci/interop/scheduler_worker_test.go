package interop

import (
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ferry-ci/ferry/modules/oci"
	"github.com/ferry-ci/ferry/modules/oci/build"
	"github.com/ferry-ci/ferry/modules/oci/dockerfile"
	"github.com/ferry-ci/ferry/modules/oci/registry"
)

// TestPodmanRunsSchedulerWorker builds services/scheduler-worker without a
// daemon, configured from its Dockerfile's final stage, runs it under podman
// and probes /livez and /version. Its dependencies (Temporal, Postgres, the
// app) are pointed at closed loopback ports: the health server answers
// before they are reached. Skips until the service's main package exists.
func TestPodmanRunsSchedulerWorker(t *testing.T) {
	svc := filepath.Join("..", "..", "..", "services", "scheduler-worker")
	if _, err := os.Stat(filepath.Join(svc, "cmd", "scheduler-worker")); errors.Is(err, os.ErrNotExist) {
		t.Skipf("%s has no cmd/scheduler-worker yet", svc)
	}
	podman := tool(t, "podman", "install podman and runc (apt-get install podman runc)")
	reg := startRegistry(t)
	ctx := testContext(t)
	st, err := dockerfile.ReadWithArgs(filepath.Join(svc, "Dockerfile"), map[string]string{
		"GIT_SHA": commitSHA, "BUILD_TS": commitTime.Format(time.RFC3339),
	})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := registry.New(registry.WithKeychain(authn.NewMultiKeychain()))
	b, _ := build.New(c)
	repo, _ := oci.ParseRepository(reg.Host() + "/ferry/scheduler-worker")
	res, err := b.Build(ctx, build.Config{
		Service: "scheduler-worker", Repository: repo, Dir: svc, Package: "./cmd/scheduler-worker", GoWork: "off",
		Platforms: []v1.Platform{{OS: "linux", Architecture: "amd64"}}, CommitSHA: commitSHA, CommitTime: commitTime,
		LDFlags: build.LDFlags{SHA: "main.gitSHA", BuildTime: "main.buildTS"},
		Image:   build.FromDockerfile(st),
	})
	if err != nil {
		t.Fatal(err)
	}
	if rev := st.Labels["org.opencontainers.image.revision"]; rev != commitSHA {
		t.Errorf("revision label %q, want the commit", rev)
	}
	// The image says what the Dockerfile's final stage says.
	img, err := c.Image(ctx, res.Ref, v1.Platform{OS: "linux", Architecture: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	var ports []string
	for p := range cf.Config.ExposedPorts {
		ports = append(ports, p)
	}
	slices.Sort(ports)
	if cf.Config.User != st.User || !slices.Equal(cf.Config.Entrypoint, st.Entrypoint) ||
		!slices.Equal(ports, st.ExposedPorts) || !maps.Equal(cf.Config.Labels, st.Labels) {
		t.Errorf("image config user %q entrypoint %q ports %q labels %v\ndiffers from the Dockerfile's final stage %s",
			cf.Config.User, cf.Config.Entrypoint, ports, cf.Config.Labels, st)
	}

	run(t, podman, "pull", "--quiet", "--tls-verify=false", res.Ref.String())
	t.Cleanup(func() { exec.Command(podman, "rmi", "--force", res.Ref.String()).Run() })
	port := freePort(t)
	name := "ferry-interop-sw-" + port
	run(t, podman, "run", "--detach", "--rm", "--name", name, "--runtime", "runc",
		"--network", "host", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
		"--env", "HEALTH_PORT="+port,
		"--env", "TEMPORAL_ADDRESS=127.0.0.1:1",
		"--env", "TEMPORAL_TASK_QUEUE=interop",
		"--env", "DATABASE_URL=postgres://nobody@127.0.0.1:1/none",
		"--env", "APP_BASE_URL=http://127.0.0.1:1",
		"--env", "SCHEDULER_API_TOKEN="+strings.Repeat("t", 40),
		"--env", "IMAGE_DIGEST="+res.Ref.Digest().String(),
		res.Ref.String())
	t.Cleanup(func() { exec.Command(podman, "rm", "--force", "--time", "2", name).Run() })

	base := "http://127.0.0.1:" + port
	var v map[string]any
	waitVersion(t, podman, name, base, &v)
	body, _ := json.Marshal(v)
	if !strings.Contains(string(body), commitSHA) || !strings.Contains(string(body), res.Ref.Digest().String()) {
		t.Errorf("/version = %s, want the stamped commit and the image digest", body)
	}
	if live, err := http.Get(base + "/livez"); err != nil || live.StatusCode != http.StatusOK {
		t.Errorf("/livez: %v %v", live, err)
	} else {
		live.Body.Close()
	}
}
