// Package migrate applies versioned SQL migrations to PostgreSQL, once each,
// under a session advisory lock so that concurrent migrators (two Job pods,
// an init container racing a Job) serialise instead of colliding.
//
// Applied migrations are recorded in schema_migrations with a SHA-256 of
// their text. A recorded migration whose embedded text has changed is a
// terminal error: the database no longer matches what the binary describes.
package migrate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultLockKey is the advisory lock key migrators agree on.
const DefaultLockKey int64 = 0x66657272796d6967 // "ferrymig"

// ErrChecksumMismatch reports an applied migration whose text has changed.
var ErrChecksumMismatch = errors.New("checksum mismatch")

// ErrOutOfOrder reports a pending migration older than an applied one.
var ErrOutOfOrder = errors.New("out of order")

// ErrBadMigration reports a migration file set that cannot be loaded.
var ErrBadMigration = errors.New("bad migration")

// Migration is one versioned SQL file.
type Migration struct {
	Version  int64
	Name     string
	SQL      string
	Checksum string // hex SHA-256 of SQL
}

var fileName = regexp.MustCompile(`^([0-9]{4,})_([a-z0-9_]+)\.sql$`)

// Load reads every *.sql file at the root of fsys, in version order. Names
// must be NNNN_name.sql with a unique, positive version and a non-empty body.
func Load(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("reading migrations: %w", err)
	}
	var out []Migration
	seen := map[int64]string{}
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".sql" {
			continue
		}
		m := fileName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("loading %q: %w: name must be NNNN_name.sql", e.Name(), ErrBadMigration)
		}
		v, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("loading %q: %w: version must be a positive number", e.Name(), ErrBadMigration)
		}
		if prev, ok := seen[v]; ok {
			return nil, fmt.Errorf("loading %q: %w: version %d also used by %q", e.Name(), ErrBadMigration, v, prev)
		}
		seen[v] = e.Name()
		body, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("reading %q: %w", e.Name(), err)
		}
		if len(body) == 0 {
			return nil, fmt.Errorf("loading %q: %w: empty file", e.Name(), ErrBadMigration)
		}
		sum := sha256.Sum256(body)
		out = append(out, Migration{Version: v, Name: m[2], SQL: string(body), Checksum: hex.EncodeToString(sum[:])})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("loading migrations: %w: no NNNN_name.sql files", ErrBadMigration)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Result says what Apply did.
type Result struct {
	Applied []Migration // applied by this call, in order
	Current int64       // highest version recorded after the call
	Unknown []int64     // recorded versions this binary does not embed (a newer migrator ran)
}

type options struct {
	lockKey int64
	logger  *slog.Logger
}

// Option configures Apply.
type Option func(*options) error

// WithLockKey sets the advisory lock key. Default: DefaultLockKey.
func WithLockKey(k int64) Option {
	return func(o *options) error { o.lockKey = k; return nil }
}

// WithLogger sets where progress goes. Default: nowhere.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return errors.New("logger must not be nil")
		}
		o.logger = l
		return nil
	}
}

// Apply takes the advisory lock on conn (waiting for it), records nothing
// twice, verifies the checksums of applied migrations and applies the
// pending ones in order, each in its own transaction with its record.
func Apply(ctx context.Context, conn *pgx.Conn, migs []Migration, opts ...Option) (Result, error) {
	o := options{lockKey: DefaultLockKey, logger: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return Result{}, fmt.Errorf("configuring migrate: %w", err)
		}
	}
	if err := lock(ctx, conn, o); err != nil {
		return Result{}, err
	}
	defer func() {
		// A fresh context: the caller's may be cancelled, and the lock must
		// not outlive this call on a pooled or reused connection.
		uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, "SELECT pg_advisory_unlock($1)", o.lockKey); err != nil {
			o.logger.Warn("releasing migration lock", "error", err)
		}
	}()
	return apply(ctx, conn, migs, o.logger)
}

func lock(ctx context.Context, conn *pgx.Conn, o options) error {
	var got bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", o.lockKey).Scan(&got); err != nil {
		return fmt.Errorf("taking migration lock: %w", err)
	}
	if got {
		return nil
	}
	o.logger.Info("waiting for migration lock held by another migrator")
	start := time.Now()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", o.lockKey); err != nil {
		return fmt.Errorf("waiting for migration lock: %w", err)
	}
	o.logger.Info("took migration lock", "waited_ms", time.Since(start).Milliseconds())
	return nil
}

const createTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    bigint PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)`

func apply(ctx context.Context, conn *pgx.Conn, migs []Migration, log *slog.Logger) (Result, error) {
	var res Result
	if _, err := conn.Exec(ctx, createTable); err != nil {
		return res, fmt.Errorf("creating schema_migrations: %w", err)
	}
	applied, err := appliedChecksums(ctx, conn)
	if err != nil {
		return res, err
	}
	known := map[int64]bool{}
	for _, m := range migs {
		known[m.Version] = true
		sum, ok := applied[m.Version]
		if ok && sum != m.Checksum {
			return res, fmt.Errorf("verifying migration %d_%s: %w: recorded %s, embedded %s", m.Version, m.Name, ErrChecksumMismatch, short(sum), short(m.Checksum))
		}
	}
	for v := range applied {
		res.Current = max(res.Current, v)
		if !known[v] {
			res.Unknown = append(res.Unknown, v)
		}
	}
	sort.Slice(res.Unknown, func(i, j int) bool { return res.Unknown[i] < res.Unknown[j] })
	if len(res.Unknown) > 0 {
		log.Warn("database has migrations this binary does not embed", "versions", res.Unknown)
	}
	for _, m := range migs {
		if _, ok := applied[m.Version]; ok {
			continue
		}
		if m.Version < res.Current {
			return res, fmt.Errorf("applying migration %d_%s: %w: version %d is already applied", m.Version, m.Name, ErrOutOfOrder, res.Current)
		}
		start := time.Now()
		if err := applyOne(ctx, conn, m); err != nil {
			return res, err
		}
		log.Info("applied migration", "version", m.Version, "name", m.Name, "duration_ms", time.Since(start).Milliseconds())
		res.Applied = append(res.Applied, m)
		res.Current = m.Version
	}
	return res, nil
}

func appliedChecksums(ctx context.Context, conn *pgx.Conn) (map[int64]string, error) {
	rows, err := conn.Query(ctx, "SELECT version, checksum FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("reading schema_migrations: %w", err)
	}
	out := map[int64]string{}
	for rows.Next() {
		var v int64
		var sum string
		if err := rows.Scan(&v, &sum); err != nil {
			return nil, fmt.Errorf("reading schema_migrations: %w", err)
		}
		out[v] = sum
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading schema_migrations: %w", err)
	}
	return out, nil
}

func applyOne(ctx context.Context, conn *pgx.Conn, m Migration) error {
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		// No arguments: pgx sends the simple protocol, so a file may hold
		// several statements.
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)", m.Version, m.Name, m.Checksum)
		return err
	})
	if err != nil {
		return fmt.Errorf("applying migration %d_%s: %w", m.Version, m.Name, err)
	}
	return nil
}

func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12]
	}
	return sum
}
