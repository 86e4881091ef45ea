// Command pgentrypoint is the entrypoint of the PostgreSQL image the
// Compose deploy test builds from the host's Debian binaries (no image can
// be pulled there). It honours the official image's POSTGRES_USER,
// POSTGRES_PASSWORD and POSTGRES_DB on an empty PGDATA: initdb with that
// superuser and password (scram-sha-256 over TCP), the database created in
// single-user mode; then it execs postgres listening on every address.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
)

var ident = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "pgentrypoint:", err)
		os.Exit(1)
	}
}

func run() error {
	bin := os.Getenv("PGBIN")
	data := os.Getenv("PGDATA")
	user := envOr("POSTGRES_USER", "postgres")
	db := envOr("POSTGRES_DB", user)
	password := os.Getenv("POSTGRES_PASSWORD")
	if bin == "" || data == "" {
		return errors.New("PGBIN and PGDATA must be set by the image")
	}
	if password == "" {
		return errors.New("POSTGRES_PASSWORD is empty: set it")
	}
	for name, v := range map[string]string{"POSTGRES_USER": user, "POSTGRES_DB": db} {
		if !ident.MatchString(v) {
			return fmt.Errorf("%s %q: use a lower-case SQL identifier", name, v)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if err := initialize(bin, data, user, db, password); err != nil {
			return err
		}
	}
	args := []string{"postgres", "-D", data, "-c", "listen_addresses=*", "-c", "unix_socket_directories=/tmp"}
	return syscall.Exec(filepath.Join(bin, "postgres"), args, os.Environ())
}

func initialize(bin, data, user, db, password string) error {
	pw, err := os.CreateTemp("", "pw")
	if err != nil {
		return fmt.Errorf("writing the password file: %w", err)
	}
	defer os.Remove(pw.Name())
	if _, err := pw.WriteString(password + "\n"); err != nil {
		return fmt.Errorf("writing the password file: %w", err)
	}
	pw.Close()
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", user, "--pwfile", pw.Name(),
		"--auth-local=trust", "--auth-host=scram-sha-256", "--no-locale", "-E", "UTF8")
	initdb.Stdout, initdb.Stderr = os.Stdout, os.Stderr
	if err := initdb.Run(); err != nil {
		return fmt.Errorf("running initdb: %w", err)
	}
	hba, err := os.OpenFile(filepath.Join(data, "pg_hba.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("opening pg_hba.conf: %w", err)
	}
	if _, err := hba.WriteString("host all all all scram-sha-256\n"); err != nil {
		return fmt.Errorf("writing pg_hba.conf: %w", err)
	}
	if err := hba.Close(); err != nil {
		return fmt.Errorf("writing pg_hba.conf: %w", err)
	}
	if db == "postgres" {
		return nil
	}
	single := exec.Command(filepath.Join(bin, "postgres"), "--single", "-D", data, "-j", "postgres")
	single.Stdin = strings.NewReader("CREATE DATABASE " + db + ";\n")
	single.Stdout, single.Stderr = os.Stdout, os.Stderr
	if err := single.Run(); err != nil {
		return fmt.Errorf("creating database %q: %w", db, err)
	}
	return nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
