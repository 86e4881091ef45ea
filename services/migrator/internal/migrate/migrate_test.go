package migrate_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ferry-ci/ferry/services/migrator/internal/migrate"
	"github.com/ferry-ci/ferry/services/migrator/internal/pgtest"
	"github.com/ferry-ci/ferry/services/migrator/migrations"
)

func embedded(t *testing.T) []migrate.Migration {
	t.Helper()
	migs, err := migrate.Load(migrations.FS)
	if err != nil {
		t.Fatalf("loading embedded migrations: %v", err)
	}
	return migs
}

func TestEmbeddedMigrationsLoad(t *testing.T) {
	migs := embedded(t)
	var got []string
	for _, m := range migs {
		got = append(got, m.Name)
	}
	if want := "grants runs"; strings.Join(got, " ") != want {
		t.Fatalf("embedded migrations = %q, want %q", got, want)
	}
}

// TestBadMigrations walks testdata/bad: each folder is a migration set that
// must fail, at load or at apply, with the error text in its want.txt.
func TestBadMigrations(t *testing.T) {
	dirs, err := os.ReadDir("testdata/bad")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		t.Run(d.Name(), func(t *testing.T) {
			dir := filepath.Join("testdata/bad", d.Name())
			want, err := os.ReadFile(filepath.Join(dir, "want.txt"))
			if err != nil {
				t.Fatal(err)
			}
			migs, err := migrate.Load(os.DirFS(dir))
			if err == nil {
				conn := pgtest.Connect(t, pgtest.NewDatabase(t))
				_, err = migrate.Apply(context.Background(), conn, migs)
			}
			if err == nil {
				t.Fatal("migrating succeeded, want an error")
			}
			if got := strings.TrimSpace(err.Error()); got != strings.TrimSpace(string(want)) {
				t.Fatalf("error = %q\nwant    %q", got, strings.TrimSpace(string(want)))
			}
		})
	}
}

func versions(t *testing.T, conn *pgx.Conn) []int64 {
	t.Helper()
	rows, err := conn.Query(context.Background(), "SELECT version FROM schema_migrations ORDER BY version")
	if err != nil {
		t.Fatalf("reading schema_migrations: %v", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatalf("reading schema_migrations: %v", err)
	}
	return out
}

func TestApplyTwiceIsIdempotent(t *testing.T) {
	ctx := context.Background()
	conn := pgtest.Connect(t, pgtest.NewDatabase(t))
	migs := embedded(t)

	first, err := migrate.Apply(ctx, conn, migs)
	if err != nil {
		t.Fatalf("first apply: %v", err)
	}
	if len(first.Applied) != len(migs) || first.Current != migs[len(migs)-1].Version {
		t.Fatalf("first apply = %d applied, current %d; want %d, %d", len(first.Applied), first.Current, len(migs), migs[len(migs)-1].Version)
	}
	second, err := migrate.Apply(ctx, conn, migs)
	if err != nil {
		t.Fatalf("second apply: %v", err)
	}
	if len(second.Applied) != 0 || second.Current != first.Current {
		t.Fatalf("second apply = %d applied, current %d; want 0, %d", len(second.Applied), second.Current, first.Current)
	}
	if got := versions(t, conn); len(got) != len(migs) {
		t.Fatalf("schema_migrations = %v, want %d rows", got, len(migs))
	}
	// The schema the worker relies on is there.
	if _, err := conn.Exec(ctx, "INSERT INTO grants (schedule_id) VALUES ('s')"); err != nil {
		t.Fatalf("writing a grant: %v", err)
	}
	if _, err := conn.Exec(ctx, "INSERT INTO runs (idempotency_key, schedule_id, workflow_id, workflow_run_id, status) VALUES ('k', 's', 'w', 'r', 'bogus')"); err == nil {
		t.Fatal("runs accepted status 'bogus'")
	}
}

func TestConcurrentMigratorsApplyEachOnce(t *testing.T) {
	url := pgtest.NewDatabase(t)
	migs := embedded(t)
	const n = 6
	conns := make([]*pgx.Conn, n)
	for i := range conns {
		conns[i] = pgtest.Connect(t, url)
	}
	var wg sync.WaitGroup
	results := make([]migrate.Result, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { results[i], errs[i] = migrate.Apply(context.Background(), conns[i], migs) })
	}
	wg.Wait()
	total := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("migrator %d: %v", i, errs[i])
		}
		total += len(results[i].Applied)
	}
	if total != len(migs) {
		t.Fatalf("migrators applied %d migrations in total, want %d (each exactly once)", total, len(migs))
	}
	if got := versions(t, conns[0]); len(got) != len(migs) {
		t.Fatalf("schema_migrations = %v, want %d rows", got, len(migs))
	}
}

func TestApplyWaitsForTheLock(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	holder, waiter, observer := pgtest.Connect(t, url), pgtest.Connect(t, url), pgtest.Connect(t, url)
	if _, err := holder.Exec(ctx, "SELECT pg_advisory_lock($1)", migrate.DefaultLockKey); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := migrate.Apply(ctx, waiter, embedded(t))
		done <- err
	}()
	// Wait until the server shows the migrator blocked on the advisory lock.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var waiting int
		err := observer.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		if waiting == 1 {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("apply finished while another session held the lock: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the migrator never waited for the lock")
		}
		time.Sleep(20 * time.Millisecond)
	}
	var tables int
	if err := observer.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'schema_migrations'").Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Fatal("the migrator touched the schema before taking the lock")
	}
	if _, err := holder.Exec(ctx, "SELECT pg_advisory_unlock($1)", migrate.DefaultLockKey); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("apply after the lock was released: %v", err)
	}
}

func TestChangedAppliedMigrationIsAnError(t *testing.T) {
	ctx := context.Background()
	conn := pgtest.Connect(t, pgtest.NewDatabase(t))
	v1 := fstest.MapFS{"0001_a.sql": {Data: []byte("CREATE TABLE a (id int);")}}
	migs, err := migrate.Load(v1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migrate.Apply(ctx, conn, migs); err != nil {
		t.Fatal(err)
	}
	v1["0001_a.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE a (id bigint);")}
	v1["0002_b.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE b (id int);")}
	migs, err = migrate.Load(v1)
	if err != nil {
		t.Fatal(err)
	}
	_, err = migrate.Apply(ctx, conn, migs)
	if !errors.Is(err, migrate.ErrChecksumMismatch) {
		t.Fatalf("apply = %v, want %v", err, migrate.ErrChecksumMismatch)
	}
	if got := versions(t, conn); len(got) != 1 {
		t.Fatalf("schema_migrations = %v after a checksum mismatch, want only version 1", got)
	}
}

func TestPendingOlderThanAppliedIsAnError(t *testing.T) {
	ctx := context.Background()
	conn := pgtest.Connect(t, pgtest.NewDatabase(t))
	fsys := fstest.MapFS{
		"0001_a.sql": {Data: []byte("CREATE TABLE a (id int);")},
		"0003_c.sql": {Data: []byte("CREATE TABLE c (id int);")},
	}
	migs, _ := migrate.Load(fsys)
	if _, err := migrate.Apply(ctx, conn, migs); err != nil {
		t.Fatal(err)
	}
	fsys["0002_b.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE b (id int);")}
	migs, _ = migrate.Load(fsys)
	if _, err := migrate.Apply(ctx, conn, migs); !errors.Is(err, migrate.ErrOutOfOrder) {
		t.Fatalf("apply = %v, want %v", err, migrate.ErrOutOfOrder)
	}
}

func TestBrokenMigrationLeavesNoTrace(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	conn := pgtest.Connect(t, url)
	migs, err := migrate.Load(os.DirFS("testdata/bad/broken-sql"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migrate.Apply(ctx, conn, migs); err == nil {
		t.Fatal("apply succeeded, want a syntax error")
	}
	if got := versions(t, conn); len(got) != 1 || got[0] != 1 {
		t.Fatalf("schema_migrations = %v, want [1]", got)
	}
	var half int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'half'").Scan(&half); err != nil {
		t.Fatal(err)
	}
	if half != 0 {
		t.Fatal("the broken migration's first statement survived: no transaction")
	}
	// The lock was released: another session can take it at once.
	var got bool
	if err := pgtest.Connect(t, url).QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", migrate.DefaultLockKey).Scan(&got); err != nil || !got {
		t.Fatalf("taking the lock after a failed apply: %v, %v", got, err)
	}
}
