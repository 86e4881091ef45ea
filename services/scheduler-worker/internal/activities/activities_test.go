package activities_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/ferry-ci/ferry/services/scheduler-worker/internal/activities"
	"github.com/ferry-ci/ferry/services/scheduler-worker/internal/appapi"
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

const token = "tok-activities-9931"

type fixture struct {
	pool  *pgxpool.Pool
	store *store.Store
	env   *testsuite.TestActivityEnvironment
	calls atomic.Int64
}

// newFixture: a migrated database, an app API answering status, and the
// activities registered in Temporal's activity test environment.
func newFixture(t *testing.T, status int) *fixture {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), pgtest.NewMigratedDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	f := &fixture{pool: pool, store: store.New(pool)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"runId":"gr-` + r.Header.Get("Idempotency-Key")[:8] + `"}`))
	}))
	t.Cleanup(srv.Close)
	app, err := appapi.New(srv.URL, token, nil)
	if err != nil {
		t.Fatal(err)
	}
	var s testsuite.WorkflowTestSuite
	f.env = s.NewTestActivityEnvironment()
	activities.New(f.store, app).Register(f.env)
	return f
}

func (f *fixture) exec(t *testing.T, name string, arg, out any) error {
	t.Helper()
	v, err := f.env.ExecuteActivity(name, arg)
	if err != nil {
		return err
	}
	return v.Get(out)
}

func TestValidateGrant(t *testing.T) {
	f := newFixture(t, 201)
	ctx := context.Background()
	_, err := f.pool.Exec(ctx, `INSERT INTO grants (schedule_id, expires_at, revoked_at, revoked_reason) VALUES
		('valid', now() + interval '1 day', NULL, ''),
		('forever', NULL, NULL, ''),
		('expired', now() - interval '1 minute', NULL, ''),
		('revoked', NULL, now() - interval '1 minute', 'owner left'),
		('revoke-later', NULL, now() + interval '1 day', '')`)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, schedule string
		allowed        bool
		reason         string
	}{
		{name: "valid until tomorrow", schedule: "valid", allowed: true},
		{name: "no expiry", schedule: "forever", allowed: true},
		{name: "revocation in the future", schedule: "revoke-later", allowed: true},
		{name: "expired", schedule: "expired", reason: "expired at "},
		{name: "revoked", schedule: "revoked", reason: ": owner left"},
		{name: "no grant", schedule: "unknown", reason: "no grant for schedule unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d wf.GrantDecision
			if err := f.exec(t, wf.ValidateGrantName, tt.schedule, &d); err != nil {
				t.Fatal(err)
			}
			if d.Allowed != tt.allowed || !strings.Contains(d.Reason, tt.reason) {
				t.Fatalf("decision = %+v, want allowed %v with reason containing %q", d, tt.allowed, tt.reason)
			}
		})
	}
}

func slot(id string) wf.Slot {
	at := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	return wf.Slot{Key: idempotency.Key(id, at), ScheduleID: id, ScheduledAt: &at, GraphID: "g-1", WorkflowID: "wf-" + id, WorkflowRunID: "run-1"}
}

func TestRunLifecycleIsIdempotent(t *testing.T) {
	f := newFixture(t, 201)
	s := slot("nightly")
	var st wf.RunState
	for i := range 2 {
		// The second call is a retry, a replay or a reset of the same slot.
		again := s
		again.WorkflowRunID = "run-2"
		if err := f.exec(t, wf.CreateRunName, again, &st); err != nil {
			t.Fatalf("create %d: %v", i+1, err)
		}
		if st.Status != wf.Running {
			t.Fatalf("create %d: status %s, want running", i+1, st.Status)
		}
	}
	var g wf.GraphRun
	if err := f.exec(t, wf.ExecuteGraphName, s, &g); err != nil {
		t.Fatal(err)
	}
	if g.StatusCode != 201 || g.ID != "gr-"+s.Key[:8] || f.calls.Load() != 1 {
		t.Fatalf("graph run = %+v after %d calls", g, f.calls.Load())
	}
	for i, in := range []wf.UpdateRunInput{
		{Key: s.Key, Status: wf.Succeeded},
		{Key: s.Key, Status: wf.Failed, Reason: "late retry must not overwrite"},
	} {
		if err := f.exec(t, wf.UpdateRunName, in, &st); err != nil {
			t.Fatalf("update %d: %v", i+1, err)
		}
		if st.Status != wf.Succeeded {
			t.Fatalf("update %d: status %s, want succeeded", i+1, st.Status)
		}
	}
	// A later CreateRun for the slot sees the final run.
	if err := f.exec(t, wf.CreateRunName, s, &st); err != nil || st.Status != wf.Succeeded {
		t.Fatalf("create after finish = %+v, %v; want succeeded", st, err)
	}
	r, err := f.store.Run(context.Background(), s.Key)
	if err != nil {
		t.Fatal(err)
	}
	if r.WorkflowRunID != "run-2" && r.WorkflowRunID != "run-1" || r.FinishedAt == nil || r.ScheduledAt == nil || !r.ScheduledAt.Equal(*s.ScheduledAt) || r.ScheduleID != "nightly" {
		t.Fatalf("stored run = %+v", r)
	}
	var rows int
	if err := f.pool.QueryRow(context.Background(), "SELECT count(*) FROM runs").Scan(&rows); err != nil || rows != 1 {
		t.Fatalf("runs has %d rows (%v), want 1", rows, err)
	}
}

func TestUpdateUnknownRunIsTerminal(t *testing.T) {
	f := newFixture(t, 201)
	var st wf.RunState
	err := f.exec(t, wf.UpdateRunName, wf.UpdateRunInput{Key: "sr1-missing", Status: wf.Failed}, &st)
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || !app.NonRetryable() {
		t.Fatalf("error = %v, want a non-retryable application error", err)
	}
}

func TestExecuteGraphClassifiesAPIErrors(t *testing.T) {
	tests := []struct {
		name         string
		status       int
		nonRetryable bool
	}{
		{name: "unavailable is retried", status: 503},
		{name: "unauthorized is terminal", status: 401, nonRetryable: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.status)
			var g wf.GraphRun
			err := f.exec(t, wf.ExecuteGraphName, slot("x"), &g)
			var app *temporal.ApplicationError
			if !errors.As(err, &app) || app.NonRetryable() != tt.nonRetryable {
				t.Fatalf("error = %v, want application error with non-retryable %v", err, tt.nonRetryable)
			}
			if strings.Contains(err.Error(), token) {
				t.Fatal("error carries the token")
			}
		})
	}
}

func TestDatabaseOutageIsRetryable(t *testing.T) {
	f := newFixture(t, 201)
	f.pool.Close()
	var d wf.GrantDecision
	err := f.exec(t, wf.ValidateGrantName, "valid", &d)
	var app *temporal.ApplicationError
	if err == nil || (errors.As(err, &app) && app.NonRetryable()) {
		t.Fatalf("error = %v, want a retryable error", err)
	}
}
