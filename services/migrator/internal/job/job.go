// Package job is the migrator's one run: reach the database with bounded
// backoff, apply the embedded migrations under the lock, report.
package job

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ferry-ci/ferry/services/migrator/internal/migrate"
)

// Backoff bounds the wait between connection attempts.
type Backoff struct {
	Initial, Max time.Duration
}

// DefaultBackoff doubles from 250ms up to 5s.
var DefaultBackoff = Backoff{Initial: 250 * time.Millisecond, Max: 5 * time.Second}

// Run connects to databaseURL, retrying until ctx ends, and applies migs.
// Connection failures are retried (the database may still be starting);
// migration failures are terminal.
func Run(ctx context.Context, databaseURL string, migs []migrate.Migration, log *slog.Logger, b Backoff) (migrate.Result, error) {
	conn, err := connect(ctx, databaseURL, log, b)
	if err != nil {
		return migrate.Result{}, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	return migrate.Apply(ctx, conn, migs, migrate.WithLogger(log))
}

func connect(ctx context.Context, databaseURL string, log *slog.Logger, b Backoff) (*pgx.Conn, error) {
	wait := b.Initial
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		conn, err := pgx.Connect(actx, databaseURL)
		if err == nil {
			err = conn.Ping(actx)
			if err != nil {
				_ = conn.Close(actx)
			}
		}
		cancel()
		if err == nil {
			if attempt > 1 {
				log.Info("reached database", "attempts", attempt)
			}
			return conn, nil
		}
		log.Warn("database unreachable, retrying", "attempt", attempt, "retry_in_ms", wait.Milliseconds(), "error", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("connecting to database after %d attempts: %w", attempt, errors.Join(ctx.Err(), err))
		case <-time.After(wait):
		}
		wait = min(2*wait, b.Max)
	}
}
