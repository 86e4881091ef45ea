package podmanup_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/ferry-ci/ferry/modules/manifests/compose"
	"github.com/ferry-ci/ferry/modules/manifests/compose/podmanup"
	"github.com/ferry-ci/ferry/modules/manifests/diag"
	"github.com/ferry-ci/ferry/modules/manifests/internal/localimage"
	"github.com/ferry-ci/ferry/modules/manifests/internal/tooltest"
)

const (
	bridge   = "../../../../deployments/compose/compose.yaml"
	services = "../../../../services"
	gitSHA   = "abc1234def5678abc1234def5678abc1234def56"
)

// need finds a host program the deploy test cannot run without: a
// failure under CI, a skip elsewhere.
func need(t *testing.T, path, hint string) string {
	t.Helper()
	if p, err := exec.LookPath(path); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not found: %s", path, hint)
	}
	t.Skipf("%s not found: %s", path, hint)
	return ""
}

// postgresBin finds the host's Debian PostgreSQL server binaries.
func postgresBin(t *testing.T) string {
	t.Helper()
	m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if len(m) == 0 {
		need(t, "/usr/lib/postgresql/<version>/bin/postgres", "apt-get install postgresql")
	}
	return filepath.Dir(m[len(m)-1])
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if d, ok := t.Deadline(); ok {
		ctx, cancel = context.WithDeadline(context.Background(), d.Add(-30*time.Second))
	}
	t.Cleanup(cancel)
	return ctx
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// TestBridgeDeployWithPodman brings the Compose bridge up with podman from
// images built here (nothing can be pulled): scheduler-worker and the
// migrator from their Dockerfiles' final stage over a local static base,
// Temporal from the pinned CLI's dev server, PostgreSQL from the host's
// Debian binaries. Every healthcheck turns healthy, the worker answers
// /readyz through the published port and shows its image digest. Then a
// scheduled run (a grant, a workflow started with the Temporal CLI) holds
// one activity in flight against an app stand-in, and the worker is
// stopped: /readyz turns 503 at once while the drain waits, the activity
// completes once the app answers, and the worker exits 0 inside the 30 s
// grace period, having logged the drain of that activity.
func TestBridgeDeployWithPodman(t *testing.T) {
	podman := need(t, "podman", "apt-get install podman runc")
	temporal := tooltest.Find(t, "temporal")
	pgBin := postgresBin(t)
	ctx := testContext(t)

	port := freePort(t)
	project := "ferry-deploytest-" + port
	b := localimage.NewBuilder(podman, "localhost/ferry-deploytest", project, t.TempDir())
	t.Cleanup(func() {
		if err := b.Remove(context.Background()); err != nil {
			t.Error(err)
		}
	})
	start := time.Now()
	images := buildImages(ctx, t, b, temporal, pgBin)
	t.Logf("built the images in %s", time.Since(start).Round(time.Second))
	start = time.Now()

	env := map[string]string{
		"SCHEDULER_WORKER_IMAGE": images["scheduler-worker"],
		"MIGRATOR_IMAGE":         images["migrator"],
		"POSTGRES_IMAGE":         images["postgres"],
		"TEMPORAL_IMAGE":         images["temporal"],
		"POSTGRES_PASSWORD":      "deploytest-" + port,
		"SCHEDULER_API_TOKEN":    strings.Repeat("d", 40),
		"SCHEDULER_WORKER_PORT":  port,
		"APP_BASE_URL":           "http://slowapp:8080",
	}
	// The same rules the check applies hold for these images.
	findings, err := compose.Check(ctx, bridge, "compose.yaml", env)
	if err != nil {
		t.Fatal(err)
	}
	if len(findings) > 0 {
		t.Fatalf("the bridge with local images: %v", diag.List(findings).Error())
	}
	p, err := loader.LoadWithContext(ctx, types.ConfigDetails{
		WorkingDir: filepath.Dir(bridge), ConfigFiles: []types.ConfigFile{{Filename: bridge}}, Environment: env,
	}, func(o *loader.Options) { o.SetProjectName(project, true) })
	if err != nil {
		t.Fatal(err)
	}
	// Explicit nofile and nproc limits: podman's defaults exceed the hard
	// limits of small VMs, and runc may not raise them. Health slack: a
	// CPU-starved CI machine starts Temporal and the worker far slower than
	// the compose file's retries allow for.
	r, err := podmanup.New(podman, p, podmanup.WithHealthSlack(4),
		podmanup.WithRunArgs("--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, s := range r.Order() {
				logs, _ := r.Logs(context.Background(), s)
				t.Logf("logs of %s:\n%s", s, logs)
			}
		}
		if err := r.Down(context.Background()); err != nil {
			t.Error(err)
		}
	})
	if err := r.Up(ctx, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if err := r.WaitHealthy(ctx, compose.Worker); err != nil {
		t.Fatal(err)
	}
	t.Logf("up and healthy %s after the builds", time.Since(start).Round(time.Second))
	for _, s := range []string{"postgres", "temporal", compose.Worker} {
		if h, err := r.Health(ctx, s); err != nil || h != "healthy" {
			t.Errorf("%s health = %q, %v; want healthy", s, h, err)
		}
	}
	if code, err := r.ExitCode(ctx, "migrator"); err != nil || code != 0 {
		t.Errorf("migrator exit code %d, %v; want 0", code, err)
	}

	base := "http://127.0.0.1:" + port
	if code, _ := get(base + "/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz through the published port = %d, want 200", code)
	}
	code, body := get(base + "/version")
	digest := images["scheduler-worker"][strings.Index(images["scheduler-worker"], "@")+1:]
	if code != http.StatusOK || !strings.Contains(body, digest) || !strings.Contains(body, gitSHA) {
		t.Errorf("/version = %d %s, want the image digest %s and commit %s", code, body, digest, gitSHA)
	}

	// An activity in flight: the app stand-in holds ExecuteGraph's call
	// until released, so the drain has something to wait for.
	ctlPort := freePort(t)
	podmanRun(ctx, t, podman, "run", "--detach", "--name", project+"-slowapp", "--label", podmanup.Label+"="+project,
		"--network", p.Networks["default"].Name, "--network-alias", "slowapp",
		"--publish", "127.0.0.1:"+ctlPort+":8081", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", images["slowapp"])
	ctl := "http://127.0.0.1:" + ctlPort
	podmanRun(ctx, t, podman, "exec", r.Container("postgres"), "psql", "-h", "/tmp", "-U", "ferry", "-d", "ferry",
		"-v", "ON_ERROR_STOP=1", "-c", "INSERT INTO grants (schedule_id, granted_by) VALUES ('deploytest', 'deploy test')")
	podmanRun(ctx, t, podman, "exec", r.Container("temporal"), "temporal", "workflow", "start",
		"--address", "127.0.0.1:7233", "--namespace", "ferry", "--task-queue", "scheduled-runs",
		"--type", "ScheduledGraphRun", "--workflow-id", "deploytest-1", "--input", `{"graphId":"g1","scheduleId":"deploytest"}`)
	for {
		if _, n := get(ctl + "/inflight"); n == "1" {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the worker never called the app: %v", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}

	// The stop, as Compose does it: the stop signal, then SIGKILL (exit
	// 137) if the worker still runs after stop_grace_period. /readyz must
	// turn 503 while the activity holds the drain open.
	type stopped struct {
		code int
		err  error
	}
	stopc := make(chan stopped, 1)
	go func() {
		code, err := r.Stop(ctx, compose.Worker)
		stopc <- stopped{code, err}
	}()
	var seq []int
	for {
		c, _ := get(base + "/readyz")
		if len(seq) == 0 || seq[len(seq)-1] != c {
			seq = append(seq, c)
		}
		if c != http.StatusOK {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if fmt.Sprint(seq) != "[200 503]" && fmt.Sprint(seq) != "[503]" {
		t.Errorf("/readyz during the stop: %v, want 503 while the drain waits for the activity", seq)
	}
	if st, err := r.State(ctx, compose.Worker); err != nil || (st != "running" && st != "stopping") {
		t.Errorf("worker state while an activity is in flight = %q, %v; want it still running, draining", st, err)
	}
	if code, _ := post(ctl + "/release"); code != http.StatusNoContent {
		t.Fatalf("releasing the app's requests: %d", code)
	}
	res := <-stopc
	if res.err != nil {
		t.Fatal(res.err)
	}
	if res.code != 0 {
		t.Errorf("worker exit code after stop = %d, want 0 within the 30 s grace", res.code)
	}
	if st, err := r.State(ctx, compose.Worker); err != nil || st != "exited" {
		t.Errorf("worker state after stop = %q, %v; want exited (no restart)", st, err)
	}
	logs, _ := r.Logs(ctx, compose.Worker)
	if !strings.Contains(logs, `"msg":"draining","service":"scheduler-worker","in_flight_activities":1`) ||
		!strings.Contains(logs, `"msg":"drain completed","service":"scheduler-worker","in_flight_at_stop":1,"completed":1,"failed":0,"abandoned":0`) {
		t.Errorf("worker logs lack the drain of one activity:\n%s", logs)
	}
	if strings.Contains(logs, env["SCHEDULER_API_TOKEN"]) || strings.Contains(logs, env["POSTGRES_PASSWORD"]) {
		t.Errorf("worker logs show a secret")
	}
}

// get returns the status code and body of url (0 when unreachable).
func get(url string) (int, string) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// post sends an empty POST to url and returns the status code (0 when
// unreachable).
func post(url string) (int, string) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Post(url, "text/plain", nil)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// podmanRun runs podman with args and fails the test on an error.
func podmanRun(ctx context.Context, t *testing.T, podman string, args ...string) {
	t.Helper()
	if out, err := exec.CommandContext(ctx, podman, args...).CombinedOutput(); err != nil {
		t.Fatalf("podman %s: %v\n%s", args[0], err, out)
	}
}

// buildImages builds the four images the bridge runs, and the app
// stand-in, and returns their digest references by service.
func buildImages(ctx context.Context, t *testing.T, b *localimage.Builder, temporal, pgBin string) map[string]string {
	t.Helper()
	images := map[string]string{}
	var err error
	const passwd = "root:x:0:0::/root:/sbin/nologin\nnonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n"
	const group = "root:x:0:\nnonroot:x:65532:\n"
	// A stand-in for distroless/static:nonroot.
	static, err := b.Scratch(ctx, "static", func(r *localimage.RootFS) {
		r.Write("/etc/passwd", passwd, 0o644)
		r.Write("/etc/group", group, 0o644)
		r.Dir("/tmp", 0o1777)
		r.Dir("/home/nonroot", 0o755)
	}, "USER 65532:65532\n")
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range []string{"scheduler-worker", "migrator"} {
		images[svc] = buildService(ctx, t, b, svc, static)
	}
	images["temporal"], err = b.Scratch(ctx, "temporal", func(r *localimage.RootFS) {
		r.Binary(temporal, "/usr/local/bin/temporal")
		r.Write("/etc/passwd", "temporal:x:1000:1000::/home/temporal:/sbin/nologin\n", 0o644)
		r.Write("/etc/group", "temporal:x:1000:\n", 0o644)
		r.Dir("/home/temporal", 0o777)
		r.Dir("/tmp", 0o1777)
	}, "ENV PATH=/usr/local/bin HOME=/home/temporal\nUSER 1000:1000\nEXPOSE 7233\nENTRYPOINT [\"/usr/local/bin/temporal\"]\n")
	if err != nil {
		t.Fatal(err)
	}
	slow := filepath.Join(t.TempDir(), "slowapp")
	goBuild(ctx, t, ".", "../../internal/localimage/slowapp", slow, "")
	images["slowapp"], err = b.Scratch(ctx, "slowapp", func(r *localimage.RootFS) {
		r.File(slow, "/usr/local/bin/slowapp")
	}, "USER 65532:65532\nEXPOSE 8080 8081\nENTRYPOINT [\"/usr/local/bin/slowapp\"]\n")
	if err != nil {
		t.Fatal(err)
	}
	entry := filepath.Join(t.TempDir(), "pgentrypoint")
	goBuild(ctx, t, ".", "../../internal/localimage/pgentrypoint", entry, "")
	ver := filepath.Base(filepath.Dir(pgBin))
	images["postgres"], err = b.Scratch(ctx, "postgres", func(r *localimage.RootFS) {
		r.File(entry, "/usr/local/bin/pgentrypoint")
		// initdb runs postgres through popen and system, hence /bin/sh.
		r.Binary("/bin/dash", "/bin/sh")
		for _, bin := range []string{"postgres", "initdb", "pg_isready", "psql"} {
			r.Binary(filepath.Join(pgBin, bin), filepath.Join(pgBin, bin))
		}
		lib := filepath.Join(filepath.Dir(pgBin), "lib")
		r.Tree(lib, lib, func(rel string) bool { return rel == "bitcode" || strings.HasPrefix(rel, "llvmjit") })
		mods, _ := filepath.Glob(filepath.Join(lib, "*.so"))
		for _, m := range mods {
			if !strings.HasPrefix(filepath.Base(m), "llvmjit") {
				r.Libraries(m)
			}
		}
		r.Tree("/usr/share/postgresql/"+ver, "/usr/share/postgresql/"+ver, nil)
		r.Tree("/usr/share/zoneinfo", "/usr/share/zoneinfo", nil)
		r.Write("/etc/passwd", "postgres:x:999:999::/var/lib/postgresql:/sbin/nologin\n", 0o644)
		r.Write("/etc/group", "postgres:x:999:\n", 0o644)
		r.Dir("/var/lib/postgresql/data", 0o700)
		r.Dir("/tmp", 0o1777)
	}, fmt.Sprintf("COPY --chown=999:999 rootfs/var/lib/postgresql/ /var/lib/postgresql/\n"+
		"ENV PATH=%s:/usr/local/bin PGBIN=%s PGDATA=/var/lib/postgresql/data TZ=UTC\n"+
		"USER 999:999\nEXPOSE 5432\nSTOPSIGNAL SIGINT\nENTRYPOINT [\"/usr/local/bin/pgentrypoint\"]\n", pgBin, pgBin))
	if err != nil {
		t.Fatal(err)
	}
	return images
}

// buildService builds services/<svc> as its Dockerfile's build stage
// would (static, trimmed, stamped) and its image from the Dockerfile's
// final stage over base.
func buildService(ctx context.Context, t *testing.T, b *localimage.Builder, svc, base string) string {
	t.Helper()
	dir := filepath.Join(services, svc)
	stage, err := localimage.FinalStage(filepath.Join(dir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	bctx := t.TempDir()
	goBuild(ctx, t, dir, "./cmd/"+svc, filepath.Join(bctx, "out", svc), "off")
	ts := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC).Format(time.RFC3339)
	ref, err := b.Build(ctx, svc, bctx, stage, map[string]string{"BASE_IMAGE": base, "GIT_SHA": gitSHA, "BUILD_TS": ts})
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// goBuild builds a static binary of pkg (in module dir) at out.
func goBuild(ctx context.Context, t *testing.T, dir, pkg, out, gowork string) {
	t.Helper()
	abs, err := filepath.Abs(out)
	if err != nil {
		t.Fatal(err)
	}
	ldflags := "-s -w -X main.gitSHA=" + gitSHA + " -X main.buildTS=" + time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC).Format(time.RFC3339)
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", ldflags, "-o", abs, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOTOOLCHAIN=local")
	if gowork != "" {
		cmd.Env = append(cmd.Env, "GOWORK="+gowork)
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s in %s: %v\n%s", pkg, dir, err, b)
	}
}
