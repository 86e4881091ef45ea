package manifests_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ferry-ci/ferry/modules/manifests/render"
)

// backupScript returns the shell script the backup CronJob runs.
func backupScript(t *testing.T) string {
	t.Helper()
	objs, err := render.Build(deployments, "base/postgres")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.Obj.GetKind() != "CronJob" {
			continue
		}
		cs, _, _ := unstructuredSlice(o.Obj.Object, "spec", "jobTemplate", "spec", "template", "spec", "containers")
		cmd, _ := cs[0]["command"].([]any)
		if len(cmd) != 3 || cmd[0] != "/bin/sh" {
			t.Fatalf("backup command %v: want [/bin/sh -ec SCRIPT]", cmd)
		}
		return cmd[2].(string)
	}
	t.Fatal("no backup CronJob in base/postgres")
	return ""
}

// TestPostgresBackupRestore runs the CronJob's own backup script and the
// documented restore script against a real PostgreSQL and compares the data.
func TestPostgresBackupRestore(t *testing.T) {
	dsn := os.Getenv("FERRY_TEST_DATABASE_URL")
	if dsn == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("FERRY_TEST_DATABASE_URL unset: run under scripts/with-postgres.sh")
		}
		t.Skip("FERRY_TEST_DATABASE_URL unset: run under scripts/with-postgres.sh")
	}
	for _, tool := range []string{"pg_dump", "pg_restore"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not on PATH (Debian postgresql-client)", tool)
		}
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	src, dst := "ferry_backup_src", "ferry_backup_dst"
	for _, db := range []string{src, dst} {
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+db); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)") })
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	withDB := func(db string) string { c := *u; c.Path = "/" + db; return c.String() }
	conn, err := pgx.Connect(ctx, withDB(src))
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, `CREATE TABLE runs (id bigserial PRIMARY KEY, schedule_id text NOT NULL, status text NOT NULL);
INSERT INTO runs (schedule_id, status) SELECT 'sched-' || g, CASE WHEN g % 3 = 0 THEN 'failed' ELSE 'succeeded' END FROM generate_series(1, 500) g;`)
	conn.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}

	pass, _ := u.User.Password()
	env := append(os.Environ(), "PGHOST="+u.Hostname(), "PGPORT="+u.Port(), "PGUSER="+u.User.Username(), "PGPASSWORD="+pass)
	backupDir := t.TempDir()
	script := strings.ReplaceAll(backupScript(t), "/backup", backupDir)
	cmd := exec.Command("/bin/sh", "-ec", script)
	cmd.Env = append(env, "PGDATABASE="+src)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("backup script: %v\n%s", err, out)
	}
	dumps, _ := filepath.Glob(filepath.Join(backupDir, "ferry-*.dump"))
	if len(dumps) != 1 {
		t.Fatalf("backup wrote %v, want one dump", dumps)
	}
	restore := exec.Command(filepath.Join(deployments, "base/postgres/restore.sh"), dumps[0])
	restore.Env = append(env, "PGDATABASE="+dst)
	if out, err := restore.CombinedOutput(); err != nil {
		t.Fatalf("restore.sh: %v\n%s", err, out)
	}
	count := func(db string) string {
		c, err := pgx.Connect(ctx, withDB(db))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		var n, failed int
		var sum string
		if err := c.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE status = 'failed'), md5(string_agg(schedule_id || status, ',' ORDER BY id)) FROM runs`).Scan(&n, &failed, &sum); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%d rows, %d failed, %s", n, failed, sum)
	}
	if a, b := count(src), count(dst); a != b {
		t.Fatalf("restored %s, source %s", b, a)
	}
	// Restoring into a database that already holds the table fails as a whole.
	again := exec.Command(filepath.Join(deployments, "base/postgres/restore.sh"), dumps[0])
	again.Env = append(env, "PGDATABASE="+dst)
	if err := again.Run(); err == nil {
		t.Fatal("restore into a non-empty database succeeded; it must refuse")
	}
}
