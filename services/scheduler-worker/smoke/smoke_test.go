// Package smoke_test drives the built scheduler-worker binary against a real
// Temporal dev server (temporal CLI v1.5.1) and a real PostgreSQL migrated
// by the real migrator, with an httptest server playing the app's internal
// API. The test plays the schedule's owner: it creates the Schedule.
package smoke_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"

	"github.com/ferry-ci/ferry/services/scheduler-worker/internal/idempotency"
	"github.com/ferry-ci/ferry/services/scheduler-worker/internal/pgtest"
	"github.com/ferry-ci/ferry/services/scheduler-worker/internal/store"
	wf "github.com/ferry-ci/ferry/services/scheduler-worker/internal/workflow"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Cleanup()
	os.Exit(code)
}

const (
	token      = "smoke-token-5f1c9a7e"
	scheduleID = "smoke-schedule"
	taskQueue  = "smoke-runs"
)

// temporalCLI finds the pinned temporal binary: PATH, then the tools cache.
func temporalCLI(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("temporal"); err == nil {
		return p
	}
	home, _ := os.UserHomeDir()
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		cache = filepath.Join(home, ".cache")
	}
	p := filepath.Join(cache, "ferry", "tools", "bin", "temporal")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("temporal CLI not found: run .ci/tools.sh temporal")
	}
	t.Skip("temporal CLI not found: run .ci/tools.sh temporal")
	return ""
}

// syncBuffer collects a process's output safely.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines parses the JSON lines written so far; a line that is not JSON fails
// the test (the contract says JSON lines on stdout).
func (b *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("worker stdout line is not JSON: %q", sc.Text())
		}
		out = append(out, m)
	}
	return out
}

func (b *syncBuffer) find(t *testing.T, msg string) map[string]any {
	t.Helper()
	for _, l := range b.lines(t) {
		if l["msg"] == msg {
			return l
		}
	}
	return nil
}

type proc struct {
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{}
	err    error
	exited time.Time
}

func start(t *testing.T, bin string, env []string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin), stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		p.exited = time.Now()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *proc) exitCode() int {
	if p.err == nil {
		return 0
	}
	if ee, ok := p.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

func (p *proc) wait(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		t.Fatalf("process still running after %s; output:\n%s", d, p.stdout.String())
	}
}

func httpGet(u string) (int, string) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitFor polls cond every 50ms until it holds or d passes.
// readyzIs is a waitFor condition: base's /readyz answers want.
func readyzIs(base string, want int) func() bool {
	return func() bool { c, _ := httpGet(base + "/readyz"); return c == want }
}

// assertAlive fails the test when the worker has exited or its livez is
// not 200: a dependency outage or a fatal worker error never ends it.
func assertAlive(t *testing.T, w *proc, base, step string) {
	t.Helper()
	select {
	case <-w.done:
		t.Fatalf("%s: the worker exited (%d)", step, w.exitCode())
	default:
	}
	if c, _ := httpGet(base + "/livez"); c != 200 {
		t.Fatalf("%s: livez = %d, want 200", step, c)
	}
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// appAPI plays the app's internal API and records every call.
type appAPI struct {
	mu      sync.Mutex
	calls   []apiCall
	delay   time.Duration
	started chan string // idempotency keys, as calls arrive
}

type apiCall struct {
	Auth, Key string
	Body      map[string]any
	Finished  bool
}

func (a *appAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	_ = json.NewDecoder(r.Body).Decode(&body)
	a.mu.Lock()
	i := len(a.calls)
	a.calls = append(a.calls, apiCall{Auth: r.Header.Get("Authorization"), Key: r.Header.Get("Idempotency-Key"), Body: body})
	delay := a.delay
	a.mu.Unlock()
	select {
	case a.started <- r.Header.Get("Idempotency-Key"):
	default:
	}
	time.Sleep(delay)
	a.mu.Lock()
	a.calls[i].Finished = true
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_, _ = fmt.Fprintf(w, `{"runId":"graph-run-%d"}`, i+1)
}

func (a *appAPI) snapshot() []apiCall {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]apiCall(nil), a.calls...)
}

func (a *appAPI) setDelay(d time.Duration) {
	a.mu.Lock()
	a.delay = d
	a.mu.Unlock()
}

func TestSmoke(t *testing.T) {
	temporalBin := temporalCLI(t)
	dbURL := pgtest.NewDatabase(t)
	u, _ := url.Parse(dbURL)
	dbPassword, _ := u.User.Password()
	pgtest.Migrate(t, dbURL)
	workerBin := pgtest.Build(t, "./cmd/scheduler-worker", "scheduler-worker")

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `INSERT INTO grants (schedule_id, granted_by) VALUES ($1, 'smoke')`, scheduleID); err != nil {
		t.Fatal(err)
	}
	runs := store.New(pool)

	api := &appAPI{started: make(chan string, 8)}
	apiSrv := httptest.NewServer(api)
	defer apiSrv.Close()

	temporalPort := pgtest.FreePort(t)
	temporalAddr := "127.0.0.1:" + strconv.Itoa(temporalPort)
	healthPort := pgtest.FreePort(t)
	base := "http://127.0.0.1:" + strconv.Itoa(healthPort)
	env := []string{
		"TEMPORAL_ADDRESS=" + temporalAddr,
		"TEMPORAL_NAMESPACE=default",
		"TEMPORAL_TASK_QUEUE=" + taskQueue,
		"DATABASE_URL=" + dbURL,
		"APP_BASE_URL=" + apiSrv.URL,
		"SCHEDULER_API_TOKEN=" + token,
		"HEALTH_PORT=" + strconv.Itoa(healthPort),
		"IMAGE_DIGEST=sha256:5m0ke",
		"LOG_LEVEL=info",
	}
	var outputs []*proc
	defer func() {
		if t.Failed() {
			for i, p := range outputs {
				t.Logf("worker process %d output:\n%s%s", i+1, p.stdout.String(), p.stderr.String())
			}
		}
		// Secrets never reach any output of any worker process.
		for i, p := range outputs {
			all := p.stdout.String() + p.stderr.String()
			for _, secret := range []string{token, dbPassword, dbURL} {
				if strings.Contains(all, secret) {
					t.Errorf("worker process %d output contains a secret", i+1)
				}
			}
		}
	}()

	// 1. The worker starts before Temporal exists: alive, not ready, says why.
	w := start(t, workerBin, env)
	outputs = append(outputs, w)
	waitFor(t, 10*time.Second, "livez 200", func() bool { c, _ := httpGet(base + "/livez"); return c == 200 })
	if c, body := httpGet(base + "/readyz"); c != 503 {
		t.Fatalf("readyz before Temporal = %d %q, want 503", c, body)
	}
	waitFor(t, 20*time.Second, "the worker to log that Temporal is unreachable", func() bool {
		return w.stdout.find(t, "temporal unreachable, retrying") != nil
	})

	// 2. Temporal comes up; the worker becomes ready on its own.
	tc := startDevServer(t, temporalBin, temporalPort)
	defer tc.Close()
	temporalUp := time.Now()
	waitFor(t, 60*time.Second, "readyz 200 after Temporal came up", func() bool { c, _ := httpGet(base + "/readyz"); return c == 200 })
	t.Logf("measured: ready %s after Temporal came up (includes backoff)", time.Since(temporalUp).Round(time.Millisecond))
	if c, _ := httpGet(base + "/livez"); c != 200 {
		t.Fatalf("livez = %d", c)
	}
	checkVersion(t, base)
	checkMetrics(t, base)

	// 3. The test plays the schedule's owner.
	sched, err := tc.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:   scheduleID,
		Spec: client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: time.Hour}}},
		Action: &client.ScheduleWorkflowAction{
			ID: "smoke-run", Workflow: wf.Name, TaskQueue: taskQueue,
			Args: []any{wf.Input{GraphID: "graph-smoke"}},
		},
		TriggerImmediately: true,
	})
	if err != nil {
		t.Fatalf("creating schedule: %v", err)
	}
	defer func() { _ = sched.Delete(context.Background()) }()
	first := waitForAction(ctx, t, sched, 1)
	var res wf.Result
	if err := tc.GetWorkflow(ctx, first.StartWorkflowResult.WorkflowID, "").Get(ctx, &res); err != nil {
		t.Fatalf("scheduled workflow: %v", err)
	}
	run, err := runs.Run(ctx, res.Key)
	if err != nil {
		t.Fatal(err)
	}
	// The key is the schedule ID and the slot's scheduled time, as the
	// schedule set them.
	if run.ScheduledAt == nil || run.ScheduledAt.Sub(first.ScheduleTime).Abs() > time.Second {
		t.Fatalf("run scheduled at %v, schedule says %v", run.ScheduledAt, first.ScheduleTime)
	}
	wantKey := idempotency.Key(scheduleID, *run.ScheduledAt)
	if res.Status != wf.Succeeded || res.Key != wantKey {
		t.Fatalf("workflow result = %+v, want succeeded with key %s", res, wantKey)
	}
	calls := api.snapshot()
	if len(calls) != 1 || calls[0].Auth != "Bearer "+token || calls[0].Key != wantKey || calls[0].Body["scheduleId"] != scheduleID || calls[0].Body["graphId"] != "graph-smoke" {
		t.Fatalf("API calls = %+v, want exactly one with the bearer token and key %s", calls, wantKey)
	}
	if run.Status != store.Succeeded || run.FinishedAt == nil || run.WorkflowID != first.StartWorkflowResult.WorkflowID {
		t.Fatalf("run row = %+v, want succeeded and finished", run)
	}
	if w.stdout.find(t, "Started Worker") == nil {
		t.Error("the Temporal SDK's own logs did not reach the worker's JSON log")
	}

	// 4. A slow API and SIGTERM mid-call: not ready at once, alive, the call
	// completes, the run is recorded once, exit 0 within the grace period.
	api.setDelay(4 * time.Second)
	<-api.started                       // the first run's call
	time.Sleep(1100 * time.Millisecond) // schedule times have second granularity
	if err := sched.Trigger(ctx, client.ScheduleTriggerOptions{}); err != nil {
		t.Fatal(err)
	}
	var slowKey string
	select {
	case slowKey = <-api.started:
	case <-time.After(60 * time.Second):
		t.Fatal("the triggered run never called the API")
	}
	termAt := time.Now()
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "readyz 503 after SIGTERM", func() bool { c, _ := httpGet(base + "/readyz"); return c == 503 })
	t.Logf("measured: readyz 503 %s after SIGTERM", time.Since(termAt).Round(time.Millisecond))
	if c, _ := httpGet(base + "/livez"); c != 200 {
		t.Fatalf("livez during drain = %d, want 200", c)
	}
	w.wait(t, 30*time.Second)
	drainTime := w.exited.Sub(termAt)
	t.Logf("measured: drain (SIGTERM to exit) %s", drainTime.Round(time.Millisecond))
	if w.exitCode() != 0 {
		t.Fatalf("worker exited %d after SIGTERM, want 0:\n%s", w.exitCode(), w.stdout.String())
	}
	drained := w.stdout.find(t, "drain completed")
	if drained == nil || drained["in_flight_at_stop"] != float64(1) || drained["completed"] != float64(1) || drained["abandoned"] != float64(0) {
		t.Fatalf("drain log = %v, want one in flight, one completed, none abandoned", drained)
	}
	assertOrder(t, w.stdout.lines(t), "shutdown requested", "draining", "drain completed", "stopped")
	calls = api.snapshot()
	if len(calls) != 2 || !calls[1].Finished || calls[1].Key != slowKey {
		t.Fatalf("API calls = %+v, want the slow call finished and no other", calls)
	}

	// 5. A new worker finishes the drained run without calling the API again;
	// its startup with both dependencies up is the startup time to ready.
	w2start := time.Now()
	w2 := start(t, workerBin, env)
	outputs = append(outputs, w2)
	waitFor(t, 30*time.Second, "the second worker's readyz 200", func() bool { c, _ := httpGet(base + "/readyz"); return c == 200 })
	t.Logf("measured: startup to ready %s", time.Since(w2start).Round(time.Millisecond))
	second := waitForAction(ctx, t, sched, 2)
	if err := tc.GetWorkflow(ctx, second.StartWorkflowResult.WorkflowID, "").Get(ctx, &res); err != nil {
		t.Fatalf("drained workflow: %v", err)
	}
	if res.Key != slowKey || res.Status != wf.Succeeded {
		t.Fatalf("drained workflow result = %+v, want succeeded with key %s", res, slowKey)
	}
	var rows int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM runs WHERE idempotency_key = $1 AND status = 'succeeded'", slowKey).Scan(&rows); err != nil || rows != 1 {
		t.Fatalf("runs for the drained slot = %d (%v), want exactly one succeeded", rows, err)
	}
	if n := len(api.snapshot()); n != 2 {
		t.Fatalf("API calls = %d after the restart, want still 2", n)
	}
	if err := w2.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	w2.wait(t, 30*time.Second)
	if w2.exitCode() != 0 || w2.stdout.find(t, "drain completed") == nil {
		t.Fatalf("second worker exit %d; output:\n%s", w2.exitCode(), w2.stdout.String())
	}
}

// startDevServer starts `temporal server start-dev` on 127.0.0.1:port and
// returns a client once it answers; the server stops with the test.
func startDevServer(t *testing.T, temporalBin string, port int) client.Client {
	t.Helper()
	dev := exec.Command(temporalBin, "server", "start-dev", "--headless", "--ip", "127.0.0.1",
		"--port", strconv.Itoa(port), "--log-level", "error",
		"--db-filename", filepath.Join(t.TempDir(), "temporal.db"))
	devOut := &syncBuffer{}
	dev.Stdout, dev.Stderr = devOut, devOut
	if err := dev.Start(); err != nil {
		t.Fatal(err)
	}
	devDone := make(chan struct{})
	go func() { _ = dev.Wait(); close(devDone) }()
	t.Cleanup(func() {
		_ = dev.Process.Signal(os.Interrupt)
		select {
		case <-devDone:
		case <-time.After(15 * time.Second):
			_ = dev.Process.Kill()
			<-devDone
		}
	})
	var tc client.Client
	addr := "127.0.0.1:" + strconv.Itoa(port)
	waitFor(t, 60*time.Second, "the Temporal dev server", func() bool {
		c, err := client.Dial(client.Options{HostPort: addr, Logger: quietLogger{}})
		if err != nil {
			return false
		}
		tc = c
		return true
	})
	return tc
}

func waitForAction(ctx context.Context, t *testing.T, h client.ScheduleHandle, n int) client.ScheduleActionResult {
	t.Helper()
	var got client.ScheduleActionResult
	waitFor(t, 60*time.Second, fmt.Sprintf("schedule action %d", n), func() bool {
		d, err := h.Describe(ctx)
		if err != nil || len(d.Info.RecentActions) < n {
			return false
		}
		got = d.Info.RecentActions[n-1]
		return got.StartWorkflowResult != nil
	})
	return got
}

func checkVersion(t *testing.T, base string) {
	t.Helper()
	c, body := httpGet(base + "/version")
	var v map[string]string
	if err := json.Unmarshal([]byte(body), &v); c != 200 || err != nil {
		t.Fatalf("/version = %d %q", c, body)
	}
	want := map[string]string{"sha": "test-sha", "service": "scheduler-worker", "buildTs": "2026-11-27T00:00:00Z", "imageDigest": "sha256:5m0ke"}
	if fmt.Sprint(v) != fmt.Sprint(want) {
		t.Fatalf("/version = %v, want %v", v, want)
	}
}

func checkMetrics(t *testing.T, base string) {
	t.Helper()
	c, body := httpGet(base + "/metrics")
	if c != 200 || !strings.Contains(body, `scheduler_worker_build_info{build_ts="2026-11-27T00:00:00Z"`) || !strings.Contains(body, "\ntemporal_") {
		t.Fatalf("/metrics = %d, want the build-info gauge and temporal_ metrics:\n%s", c, body)
	}
}

func assertOrder(t *testing.T, lines []map[string]any, msgs ...string) {
	t.Helper()
	i := 0
	for _, l := range lines {
		if i < len(msgs) && l["msg"] == msgs[i] {
			i++
		}
	}
	if i != len(msgs) {
		t.Fatalf("log lacks %q in order %q", msgs[i], msgs)
	}
}

// quietLogger keeps the test's own Temporal client out of the test output.
type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}

func TestMissingVariables(t *testing.T) {
	bin := pgtest.Build(t, "./cmd/scheduler-worker", "scheduler-worker")
	p := start(t, bin, []string{
		"TEMPORAL_ADDRESS=127.0.0.1:7233",
		"TEMPORAL_TASK_QUEUE=q",
		"APP_BASE_URL=http://127.0.0.1:1",
		"HEALTH_PORT=ninety",
		"WORKER_STOP_TIMEOUT=45s",
	})
	began := time.Now()
	p.wait(t, 10*time.Second)
	t.Logf("measured: exit on bad env after %s", p.exited.Sub(began).Round(time.Millisecond))
	if p.exitCode() == 0 {
		t.Fatal("exit 0 with missing variables")
	}
	lines := p.stdout.lines(t)
	if len(lines) != 1 || p.stderr.String() != "" {
		t.Fatalf("want exactly one line on stdout and nothing on stderr, got:\n%s%s", p.stdout.String(), p.stderr.String())
	}
	for _, name := range []string{"DATABASE_URL", "SCHEDULER_API_TOKEN", "HEALTH_PORT", "WORKER_STOP_TIMEOUT"} {
		if !strings.Contains(p.stdout.String(), name) {
			t.Errorf("the error line does not name %s", name)
		}
	}
	for _, value := range []string{"ninety", "45s"} {
		if strings.Contains(p.stdout.String(), value) {
			t.Errorf("the error line echoes the value %q", value)
		}
	}
}
