// Package config reads and validates the migrator's environment. Every
// problem is reported at once, by variable name, never with its value.
package config

import (
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Config is the validated environment.
type Config struct {
	DatabaseURL Secret        // DATABASE_URL, required
	HealthPort  int           // HEALTH_PORT, default 9000
	LogLevel    slog.Level    // LOG_LEVEL, default info
	ImageDigest string        // IMAGE_DIGEST, default "unknown"
	Timeout     time.Duration // MIGRATE_TIMEOUT, default 5m: reaching the database, the lock and applying
}

// Problem is one invalid variable.
type Problem struct {
	Name   string
	Reason string
}

// Error lists every invalid variable.
type Error struct{ Problems []Problem }

// Error implements error; it names variables and never quotes a value.
func (e *Error) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Name + " " + p.Reason
	}
	return "invalid environment: " + strings.Join(parts, "; ")
}

// Names returns the invalid variables' names in order.
func (e *Error) Names() []string {
	out := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p.Name
	}
	return out
}

// Load reads the environment through lookup (os.LookupEnv in production).
// An empty value counts as unset.
func Load(lookup func(string) (string, bool)) (Config, error) {
	get := func(name string) string {
		v, _ := lookup(name)
		return strings.TrimSpace(v)
	}
	cfg := Config{HealthPort: 9000, LogLevel: slog.LevelInfo, ImageDigest: "unknown", Timeout: 5 * time.Minute}
	var probs []Problem
	bad := func(name, reason string) { probs = append(probs, Problem{name, reason}) }

	if v := get("DATABASE_URL"); v == "" {
		bad("DATABASE_URL", "is required")
	} else if err := checkDatabaseURL(v); err != "" {
		bad("DATABASE_URL", err)
	} else {
		cfg.DatabaseURL = Secret(v)
	}
	if v := get("HEALTH_PORT"); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 || p > 65535 {
			bad("HEALTH_PORT", "must be a port number (1-65535)")
		} else {
			cfg.HealthPort = p
		}
	}
	if v := get("LOG_LEVEL"); v != "" {
		if err := cfg.LogLevel.UnmarshalText([]byte(v)); err != nil {
			bad("LOG_LEVEL", "must be one of debug, info, warn, error")
		}
	}
	if v := get("IMAGE_DIGEST"); v != "" {
		cfg.ImageDigest = v
	}
	if v := get("MIGRATE_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			bad("MIGRATE_TIMEOUT", "must be a positive duration such as 5m")
		} else {
			cfg.Timeout = d
		}
	}
	if len(probs) > 0 {
		return Config{}, &Error{Problems: probs}
	}
	return cfg, nil
}

// checkDatabaseURL returns a reason, never the parser's message: pgx errors
// can quote the URL, password included.
func checkDatabaseURL(v string) string {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return "must be a postgres:// URL with a host"
	}
	if _, err := pgx.ParseConfig(v); err != nil {
		return "must be a valid PostgreSQL connection URL"
	}
	return ""
}

// Secrets returns the strings that must never be printed: the URL and its
// password, for the log handler's safety net.
func (c Config) Secrets() []string {
	out := []string{c.DatabaseURL.Reveal()}
	if u, err := url.Parse(c.DatabaseURL.Reveal()); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok {
			out = append(out, p)
		}
	}
	return out
}

// String describes the configuration without secrets, for the start log.
func (c Config) String() string {
	return fmt.Sprintf("health_port=%d log_level=%s image_digest=%s migrate_timeout=%s", c.HealthPort, c.LogLevel, c.ImageDigest, c.Timeout)
}
