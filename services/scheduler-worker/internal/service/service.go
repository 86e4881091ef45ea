// Package service runs the worker for the life of the process: reach
// Temporal and PostgreSQL with bounded backoff, start polling, watch both
// dependencies, and on shutdown drain in-flight activities and close the
// clients, driving the health state at every step.
//
// A dependency outage never ends the process: at start it waits, later it
// marks the worker degraded (readyz 503) until the dependency answers again,
// and a fatal worker error restarts the worker in-process. A Temporal
// namespace that disappears counts as an outage too: the SDK keeps polling
// it for two minutes before it gives up (the fatal error), and readiness
// must not claim the worker polls in the meantime.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sethvargo/go-retry"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	sdkworkflow "go.temporal.io/sdk/workflow"

	"github.com/ferry-ci/ferry/services/scheduler-worker/internal/activities"
	"github.com/ferry-ci/ferry/services/scheduler-worker/internal/appapi"
	"github.com/ferry-ci/ferry/services/scheduler-worker/internal/config"
	"github.com/ferry-ci/ferry/services/scheduler-worker/internal/health"
	"github.com/ferry-ci/ferry/services/scheduler-worker/internal/store"
	wf "github.com/ferry-ci/ferry/services/scheduler-worker/internal/workflow"
)

// Options are what Run needs besides the configuration.
type Options struct {
	Log     *slog.Logger
	State   *health.State
	Metrics client.MetricsHandler // nil: no SDK metrics
	// RetryMin and RetryMax bound the backoff between attempts to reach a
	// dependency or restart the worker. Defaults 500ms and 15s.
	RetryMin, RetryMax time.Duration
	// CheckEvery is how often dependencies are checked while running.
	// Default 5s.
	CheckEvery time.Duration
}

// Run runs until ctx ends, then drains and returns nil. The caller moves
// the state to Draining as soon as it decides to stop (before cancelling
// ctx), and closes the health server after Run returns.
func Run(ctx context.Context, cfg config.Config, o Options) error {
	if o.RetryMin <= 0 {
		o.RetryMin = 500 * time.Millisecond
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 15 * time.Second
	}
	if o.CheckEvery <= 0 {
		o.CheckEvery = 5 * time.Second
	}
	app, err := appapi.New(cfg.AppBaseURL, cfg.APIToken.Reveal(), nil)
	if err != nil {
		return err
	}
	tracker := &Tracker{}
	r := &runner{cfg: cfg, o: o, log: o.Log, app: app, tracker: tracker}
	return r.run(ctx)
}

type runner struct {
	cfg     config.Config
	o       Options
	log     *slog.Logger
	app     *appapi.Client
	tracker *Tracker
}

type deps struct {
	pool     *pgxpool.Pool
	temporal client.Client
}

func (d *deps) close() {
	if d.temporal != nil {
		d.temporal.Close()
	}
	if d.pool != nil {
		d.pool.Close()
	}
}

func (r *runner) backoff() retry.Backoff {
	return retry.WithCappedDuration(r.o.RetryMax, retry.WithJitterPercent(20, retry.NewExponential(r.o.RetryMin)))
}

func (r *runner) run(ctx context.Context) error {
	restarts := r.backoff()
	for {
		start := time.Now()
		d, err := r.connect(ctx)
		if err != nil {
			// Stopped before anything ran: nothing to drain.
			r.log.Info("drain completed", "in_flight_at_stop", 0, "completed", 0, "failed", 0, "abandoned", 0, "duration_ms", 0, "phase", "connecting")
			return nil
		}
		fatal := make(chan error, 1)
		w := worker.New(d.temporal, r.cfg.TaskQueue, worker.Options{
			WorkerStopTimeout: r.cfg.StopTimeout,
			Interceptors:      []interceptor.WorkerInterceptor{r.tracker},
			OnFatalError: func(err error) {
				select {
				case fatal <- err:
				default:
				}
			},
		})
		w.RegisterWorkflowWithOptions(wf.ScheduledGraphRun, sdkworkflow.RegisterOptions{Name: wf.Name})
		activities.New(store.New(d.pool), r.app).Register(w)
		if err := w.Start(); err != nil {
			d.close()
			r.log.Warn("starting worker, retrying", "error", err)
			r.o.State.Set(health.Starting, "worker could not start")
			if !sleep(ctx, restarts) {
				r.log.Info("drain completed", "in_flight_at_stop", 0, "completed", 0, "failed", 0, "abandoned", 0, "duration_ms", 0, "phase", "starting")
				return nil
			}
			continue
		}
		if r.o.State.Set(health.Ready, "worker polling") {
			r.log.Info("worker ready", "task_queue", r.cfg.TaskQueue, "namespace", r.cfg.TemporalNamespace, "startup_ms", time.Since(start).Milliseconds())
		}
		watchCtx, stopWatch := context.WithCancel(ctx)
		go r.watch(watchCtx, d)

		select {
		case <-ctx.Done():
			stopWatch()
			r.drain(w, d)
			return nil
		case err := <-fatal:
			stopWatch()
			r.o.State.Set(health.Starting, "worker stopped on a fatal error; restarting")
			r.log.Error("worker stopped on a fatal error, restarting", "error", err)
			w.Stop()
			d.close()
			if !sleep(ctx, restarts) {
				r.log.Info("drain completed", "in_flight_at_stop", 0, "completed", 0, "failed", 0, "abandoned", 0, "duration_ms", 0, "phase", "restarting")
				return nil
			}
		}
	}
}

// connect reaches PostgreSQL and Temporal, retrying each with bounded
// backoff until both answer or ctx ends.
func (r *runner) connect(ctx context.Context) (*deps, error) {
	d := &deps{}
	pcfg, err := pgxpool.ParseConfig(r.cfg.DatabaseURL.Reveal())
	if err != nil {
		// Validated at start; reaching here means a pgx change. No detail:
		// the parser's message can quote the URL.
		return nil, errors.New("parsing DATABASE_URL")
	}
	pcfg.MaxConns = 8
	attempt := 0
	err = retry.Do(ctx, r.backoff(), func(ctx context.Context) error {
		attempt++
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if d.pool == nil {
			pool, err := pgxpool.NewWithConfig(ctx, pcfg)
			if err != nil {
				return r.waiting(attempt, "postgres", err)
			}
			if err := pool.Ping(actx); err != nil {
				pool.Close()
				return r.waiting(attempt, "postgres", err)
			}
			d.pool = pool
			r.log.Info("reached postgres", "attempts", attempt)
		}
		if d.temporal == nil {
			c, err := client.DialContext(actx, client.Options{
				HostPort:       r.cfg.TemporalAddress,
				Namespace:      r.cfg.TemporalNamespace,
				Logger:         tlog.NewStructuredLogger(r.log.With("component", "temporal-sdk")),
				MetricsHandler: r.o.Metrics,
			})
			if err != nil {
				return r.waiting(attempt, "temporal", err)
			}
			d.temporal = c
			r.log.Info("reached temporal", "address", r.cfg.TemporalAddress, "attempts", attempt)
		}
		return nil
	})
	if err != nil {
		d.close()
		return nil, fmt.Errorf("connecting: %w", err)
	}
	return d, nil
}

func (r *runner) waiting(attempt int, dep string, err error) error {
	r.o.State.Set(health.Starting, "waiting for "+dep)
	r.log.Warn(dep+" unreachable, retrying", "dependency", dep, "attempt", attempt, "error", err)
	return retry.RetryableError(err)
}

// watch checks both dependencies every CheckEvery and moves the state
// between Ready and Degraded, logging each change with its cause.
func (r *runner) watch(ctx context.Context, d *deps) {
	t := time.NewTicker(r.o.CheckEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		var why []string
		var errs []error
		if err := d.pool.Ping(cctx); err != nil {
			why, errs = append(why, "postgres"), append(errs, err)
		}
		if _, err := d.temporal.CheckHealth(cctx, &client.CheckHealthRequest{}); err != nil {
			why, errs = append(why, "temporal"), append(errs, err)
		} else if err := r.namespaceGone(cctx, d); err != nil {
			why, errs = append(why, "temporal namespace"), append(errs, err)
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
		phase, _ := r.o.State.Phase()
		switch {
		case len(why) > 0:
			reason := fmt.Sprintf("%v unreachable", why)
			if r.o.State.Set(health.Degraded, reason) && phase != health.Degraded {
				r.log.Warn("dependency unreachable, not ready", "dependencies", why, "error", errors.Join(errs...))
			} else {
				r.log.Debug("dependency still unreachable", "dependencies", why, "error", errors.Join(errs...))
			}
		case phase == health.Degraded:
			if r.o.State.Set(health.Ready, "dependencies reachable again") {
				r.log.Info("dependencies reachable again, ready")
			}
		}
	}
}

// namespaceGone returns an error when the server says the worker's
// namespace does not exist; any other answer (including errors such as a
// missing permission to describe it) leaves readiness alone.
func (r *runner) namespaceGone(ctx context.Context, d *deps) error {
	_, err := d.temporal.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: r.cfg.TemporalNamespace})
	var nf *serviceerror.NamespaceNotFound
	if errors.As(err, &nf) {
		return fmt.Errorf("describing namespace %q: %w", r.cfg.TemporalNamespace, err)
	}
	return nil
}

// drain stops polling, waits for in-flight activities (up to the stop
// timeout), closes the clients and logs what happened.
func (r *runner) drain(w worker.Worker, d *deps) {
	r.o.State.Set(health.Draining, "shutting down")
	start := time.Now()
	before := r.tracker.Counts()
	r.log.Info("draining", "in_flight_activities", before.InFlight, "stop_timeout", r.cfg.StopTimeout.String())
	w.Stop()
	after := r.tracker.Counts()
	d.close()
	r.log.Info("drain completed",
		"in_flight_at_stop", before.InFlight,
		"completed", after.Completed-before.Completed,
		"failed", after.Failed-before.Failed,
		"abandoned", after.InFlight,
		"duration_ms", time.Since(start).Milliseconds())
}

// sleep waits for b's next interval; false when ctx ended first.
func sleep(ctx context.Context, b retry.Backoff) bool {
	d, _ := b.Next()
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}
