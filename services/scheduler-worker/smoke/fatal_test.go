package smoke_test

import (
	"context"
	"errors"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/ferry-ci/ferry/services/scheduler-worker/internal/pgtest"
	wf "github.com/ferry-ci/ferry/services/scheduler-worker/internal/workflow"
)

// TestFatalWorkerErrorRestarts provokes the error the Temporal SDK treats
// as fatal for a running worker, a namespace that no longer exists, by
// deleting the worker's namespace on a real dev server. The worker must go
// unready at once (the SDK itself keeps polling the missing namespace for
// two minutes before it gives up), log the fatal error when it comes, stay
// alive, keep retrying with backoff, and poll again once the namespace is
// back: it never exits or crash-loops. It takes over three minutes of
// waiting, so it runs beside the other smoke tests.
func TestFatalWorkerErrorRestarts(t *testing.T) {
	if os.Getenv("FERRY_LONG_TESTS") == "" {
		// Every release runs the service's tests: four minutes of waiting
		// on the SDK belong in CI, not in each release.
		t.Skip("waits over three minutes for the SDK's fatal error; set FERRY_LONG_TESTS=1 (make test does)")
	}
	t.Parallel()
	temporalBin := temporalCLI(t)
	dbURL := pgtest.NewMigratedDatabase(t)
	workerBin := pgtest.Build(t, "./cmd/scheduler-worker", "scheduler-worker")
	temporalPort := pgtest.FreePort(t)
	tc := startDevServer(t, temporalBin, temporalPort)
	defer tc.Close()

	const ns, queue = "fatal-runs", "fatal-runs"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	register := func() {
		t.Helper()
		_, err := tc.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
			Namespace:                        ns,
			WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour),
		})
		if err != nil {
			t.Fatalf("registering namespace %s: %v", ns, err)
		}
	}
	register()

	healthPort := pgtest.FreePort(t)
	base := "http://127.0.0.1:" + strconv.Itoa(healthPort)
	w := start(t, workerBin, []string{
		"TEMPORAL_ADDRESS=127.0.0.1:" + strconv.Itoa(temporalPort),
		"TEMPORAL_NAMESPACE=" + ns,
		"TEMPORAL_TASK_QUEUE=" + queue,
		"DATABASE_URL=" + dbURL,
		"APP_BASE_URL=http://127.0.0.1:9",
		"SCHEDULER_API_TOKEN=" + token,
		"HEALTH_PORT=" + strconv.Itoa(healthPort),
	})
	defer func() {
		if t.Failed() {
			t.Logf("worker output:\n%s%s", w.stdout.String(), w.stderr.String())
		}
	}()
	count := func(msg string) int {
		n := 0
		for _, l := range w.stdout.lines(t) {
			if l["msg"] == msg {
				n++
			}
		}
		return n
	}
	waitFor(t, 60*time.Second, "readyz 200", readyzIs(base, 200))

	// The server refuses deletions until its own system namespace is
	// loaded, a few seconds after start.
	var delErr error
	waitFor(t, 60*time.Second, "deleting namespace "+ns, func() bool {
		_, delErr = tc.OperatorService().DeleteNamespace(ctx, &operatorservice.DeleteNamespaceRequest{Namespace: ns})
		return delErr == nil
	})
	waitFor(t, 30*time.Second, "readyz 503 with the namespace gone", readyzIs(base, 503))
	waitFor(t, 10*time.Second, "the log naming the namespace", func() bool {
		for _, l := range w.stdout.lines(t) {
			if deps, ok := l["dependencies"].([]any); ok && l["msg"] == "dependency unreachable, not ready" && len(deps) == 1 && deps[0] == "temporal namespace" {
				return true
			}
		}
		return false
	})
	assertAlive(t, w, base, "namespace gone")
	// The SDK's grace period is two minutes of failed polls after the
	// outstanding long poll (up to a minute) returns.
	waitFor(t, 5*time.Minute, "the log line for the fatal worker error", func() bool {
		return count("worker stopped on a fatal error, restarting") > 0
	})
	if !readyzIs(base, 503)() {
		t.Fatal("readyz 200 after the fatal worker error")
	}
	assertAlive(t, w, base, "after the fatal error")

	// The name is free once the server has renamed the deleted namespace.
	waitFor(t, 90*time.Second, "namespace "+ns+" to be gone", func() bool {
		_, err := tc.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: ns})
		var nf *serviceerror.NamespaceNotFound
		return errors.As(err, &nf)
	})
	register()
	waitFor(t, 90*time.Second, "readyz 200 once the namespace is back", readyzIs(base, 200))
	assertAlive(t, w, base, "after the restart")
	if n := count("worker ready"); n < 2 {
		t.Fatalf("%d 'worker ready' log lines, want one before and one after the restart", n)
	}

	// Polling really resumed: a run started now is executed. Without a
	// schedule it ends as skipped, which needs only the worker.
	nc, err := client.Dial(client.Options{HostPort: "127.0.0.1:" + strconv.Itoa(temporalPort), Namespace: ns, Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var run client.WorkflowRun
	waitFor(t, 60*time.Second, "starting a run in the recreated namespace", func() bool {
		run, err = nc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "after-restart", TaskQueue: queue}, wf.Name, wf.Input{GraphID: "g-after-restart"})
		return err == nil
	})
	rctx, rcancel := context.WithTimeout(ctx, 60*time.Second)
	defer rcancel()
	var res wf.Result
	if err := run.Get(rctx, &res); err != nil {
		t.Fatalf("the run after the restart: %v", err)
	}
	if res.Status != wf.Skipped {
		t.Fatalf("the run after the restart ended %q, want %q", res.Status, wf.Skipped)
	}

	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	w.wait(t, 30*time.Second)
	if w.exitCode() != 0 {
		t.Fatalf("exit %d after SIGTERM", w.exitCode())
	}
}
