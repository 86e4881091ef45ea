// Command migrator applies the embedded schema migrations to DATABASE_URL
// and exits 0 when the schema is current. It runs as a Kubernetes Job (or
// before the worker locally); while it runs it serves /livez, /readyz (200
// once done) and /version on HEALTH_PORT. See service.yaml for its env.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/ferry-ci/ferry/services/migrator/internal/config"
	"github.com/ferry-ci/ferry/services/migrator/internal/health"
	"github.com/ferry-ci/ferry/services/migrator/internal/job"
	"github.com/ferry-ci/ferry/services/migrator/internal/logging"
	"github.com/ferry-ci/ferry/services/migrator/internal/migrate"
	"github.com/ferry-ci/ferry/services/migrator/migrations"
)

const service = "migrator"

// Set by the build: -ldflags "-X main.gitSHA=... -X main.buildTS=...".
var (
	gitSHA  = "unknown"
	buildTS = "unknown"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.LookupEnv, os.Stdout))
}

func run(ctx context.Context, lookup func(string) (string, bool), stdout io.Writer) int {
	cfg, err := config.Load(lookup)
	if err != nil {
		log := logging.New(stdout, nil, service)
		var cerr *config.Error
		if errors.As(err, &cerr) {
			log.Error("invalid configuration", "error", err, "variables", cerr.Names())
		} else {
			log.Error("invalid configuration", "error", err)
		}
		return 2
	}
	log := logging.New(stdout, cfg.LogLevel, service, cfg.Secrets()...)
	v := health.Version{SHA: gitSHA, Service: service, BuildTS: buildTS, ImageDigest: cfg.ImageDigest}
	log.Info("starting", "sha", v.SHA, "build_ts", v.BuildTS, "image_digest", v.ImageDigest, "config", cfg.String())

	migs, err := migrate.Load(migrations.FS)
	if err != nil {
		log.Error("loading embedded migrations", "error", err)
		return 1
	}
	h := health.New(v)
	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(cfg.HealthPort)))
	if err != nil {
		log.Error("listening for health checks", "port", cfg.HealthPort, "error", err)
		return 1
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()

	start := time.Now()
	rctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	res, err := job.Run(rctx, cfg.DatabaseURL.Reveal(), migs, log, job.DefaultBackoff)
	if err != nil {
		log.Error("migrating", "error", err, "duration_ms", time.Since(start).Milliseconds())
		return 1
	}
	h.SetReady(true)
	log.Info("schema current", "applied", len(res.Applied), "version", res.Current,
		"embedded", len(migs), "duration_ms", time.Since(start).Milliseconds(), "summary", fmt.Sprintf("%d applied, now at %d", len(res.Applied), res.Current))
	return 0
}
