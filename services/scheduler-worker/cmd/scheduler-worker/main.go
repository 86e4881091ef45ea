// Command scheduler-worker is a Temporal worker that executes scheduled
// graph runs (see internal/workflow) under the service contract: /livez,
// /readyz, /version and /metrics on HEALTH_PORT, JSON logs on stdout, env
// validated at start, and a drain on SIGTERM or SIGINT. It never creates,
// changes or deletes schedules. service.yaml lists its environment.
package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/ferry-ci/ferry/services/scheduler-worker/internal/config"
	"github.com/ferry-ci/ferry/services/scheduler-worker/internal/health"
	"github.com/ferry-ci/ferry/services/scheduler-worker/internal/logging"
	"github.com/ferry-ci/ferry/services/scheduler-worker/internal/metrics"
	"github.com/ferry-ci/ferry/services/scheduler-worker/internal/service"
)

const serviceName = "scheduler-worker"

// Set by the build: -ldflags "-X main.gitSHA=... -X main.buildTS=...".
var (
	gitSHA  = "unknown"
	buildTS = "unknown"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "probe" {
		os.Exit(probe(os.Args[2:], os.Stderr))
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	os.Exit(run(os.LookupEnv, os.Stdout, sigs))
}

// run is the whole process; it returns the exit code.
func run(lookup func(string) (string, bool), stdout io.Writer, sigs <-chan os.Signal) int {
	cfg, err := config.Load(lookup)
	if err != nil {
		log := logging.New(stdout, nil, serviceName)
		var cerr *config.Error
		if errors.As(err, &cerr) {
			log.Error("invalid configuration", "error", err, "variables", cerr.Names())
		} else {
			log.Error("invalid configuration", "error", err)
		}
		return 2
	}
	log := logging.New(stdout, cfg.LogLevel, serviceName, cfg.Secrets()...)
	v := health.Version{SHA: gitSHA, Service: serviceName, BuildTS: buildTS, ImageDigest: cfg.ImageDigest}
	log.Info("starting", "sha", v.SHA, "build_ts", v.BuildTS, "image_digest", v.ImageDigest, "config", cfg)

	met, err := metrics.New(gitSHA, buildTS, log)
	if err != nil {
		log.Error("setting up metrics", "error", err)
		return 1
	}
	state := health.NewState()
	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(cfg.HealthPort)))
	if err != nil {
		log.Error("listening for health checks", "port", cfg.HealthPort, "error", err)
		return 1
	}
	srv := &http.Server{Handler: health.Handler(state, v, met.Handler()), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("serving health checks", "error", err)
		}
	}()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		sig := <-sigs
		// Readiness first, at once; the drain follows.
		state.Set(health.Draining, "received "+sig.String())
		log.Info("shutdown requested", "signal", sig.String())
		cancel()
		for sig := range sigs {
			log.Warn("already shutting down", "signal", sig.String())
		}
	}()

	code := 0
	if err := service.Run(ctx, cfg, service.Options{Log: log, State: state, Metrics: met.Temporal()}); err != nil {
		log.Error("running", "error", err)
		code = 1
	}
	state.Set(health.Stopped, "drained")
	sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer scancel()
	_ = met.Close(sctx)
	// The health server goes last: probes see livez 200 until here.
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("closing health server", "error", err)
	}
	log.Info("stopped", "exit_code", code)
	return code
}
