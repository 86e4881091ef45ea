// Package config reads and validates the worker's environment. Every
// problem is reported at once, by variable name, never with its value: a
// secret typed into the wrong variable must not reach a log.
package config

import (
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// MaxStopTimeout is the longest WORKER_STOP_TIMEOUT accepted: with about 5 s
// for closing clients, the health server and log slack, the whole shutdown
// fits Kubernetes' default 30 s termination grace period.
const MaxStopTimeout = 25 * time.Second

// Config is the validated environment.
type Config struct {
	TemporalAddress   string        // TEMPORAL_ADDRESS, required, host:port
	TemporalNamespace string        // TEMPORAL_NAMESPACE, default "default"
	TaskQueue         string        // TEMPORAL_TASK_QUEUE, required
	DatabaseURL       Secret        // DATABASE_URL, required, secret
	AppBaseURL        string        // APP_BASE_URL, required, http(s)://host[:port][/path]
	APIToken          Secret        // SCHEDULER_API_TOKEN, required, secret
	HealthPort        int           // HEALTH_PORT, default 9000
	LogLevel          slog.Level    // LOG_LEVEL, default info
	ImageDigest       string        // IMAGE_DIGEST, default "unknown"
	StopTimeout       time.Duration // WORKER_STOP_TIMEOUT, default 20s, at most MaxStopTimeout
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
// An empty or blank value counts as unset.
func Load(lookup func(string) (string, bool)) (Config, error) {
	get := func(name string) string {
		v, _ := lookup(name)
		return strings.TrimSpace(v)
	}
	cfg := Config{
		TemporalNamespace: "default",
		HealthPort:        9000,
		LogLevel:          slog.LevelInfo,
		ImageDigest:       "unknown",
		StopTimeout:       20 * time.Second,
	}
	var probs []Problem
	bad := func(name, reason string) { probs = append(probs, Problem{name, reason}) }
	required := func(name string, check func(string) string, set func(string)) {
		v := get(name)
		if v == "" {
			bad(name, "is required")
			return
		}
		if reason := check(v); reason != "" {
			bad(name, reason)
			return
		}
		set(v)
	}

	required("TEMPORAL_ADDRESS", checkHostPort, func(v string) { cfg.TemporalAddress = v })
	if v := get("TEMPORAL_NAMESPACE"); v != "" {
		cfg.TemporalNamespace = v
	}
	required("TEMPORAL_TASK_QUEUE", func(string) string { return "" }, func(v string) { cfg.TaskQueue = v })
	required("DATABASE_URL", checkDatabaseURL, func(v string) { cfg.DatabaseURL = Secret(v) })
	required("APP_BASE_URL", checkBaseURL, func(v string) { cfg.AppBaseURL = strings.TrimRight(v, "/") })
	required("SCHEDULER_API_TOKEN", checkToken, func(v string) { cfg.APIToken = Secret(v) })
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
	if v := get("WORKER_STOP_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > MaxStopTimeout {
			bad("WORKER_STOP_TIMEOUT", "must be a duration above 0 and at most "+MaxStopTimeout.String()+" (fits a 30s grace period)")
		} else {
			cfg.StopTimeout = d
		}
	}
	if len(probs) > 0 {
		return Config{}, &Error{Problems: probs}
	}
	return cfg, nil
}

func checkHostPort(v string) string {
	host, port, err := net.SplitHostPort(v)
	if err != nil || host == "" {
		return "must be host:port"
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return "must be host:port"
	}
	return ""
}

// checkDatabaseURL returns a reason, never the parser's message: pgx errors
// can quote the URL, password included.
func checkDatabaseURL(v string) string {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return "must be a postgres:// URL with a host"
	}
	if _, err := pgxpool.ParseConfig(v); err != nil {
		return "must be a valid PostgreSQL connection URL"
	}
	return ""
}

func checkBaseURL(v string) string {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "must be an http(s) URL with a host and no credentials, query or fragment"
	}
	return ""
}

func checkToken(v string) string {
	for _, r := range v {
		// The token goes into a header: visible ASCII only.
		if r < 0x21 || r > 0x7e {
			return "must be printable ASCII without spaces"
		}
	}
	return ""
}

// Secrets returns every string that must never be printed: the token, the
// database URL and its password, for the log handler's safety net.
func (c Config) Secrets() []string {
	out := []string{c.APIToken.Reveal(), c.DatabaseURL.Reveal()}
	if u, err := url.Parse(c.DatabaseURL.Reveal()); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok {
			out = append(out, p)
		}
	}
	return out
}

// LogValue describes the configuration without secrets.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("temporal_address", c.TemporalAddress),
		slog.String("temporal_namespace", c.TemporalNamespace),
		slog.String("task_queue", c.TaskQueue),
		slog.String("app_base_url", c.AppBaseURL),
		slog.Int("health_port", c.HealthPort),
		slog.String("log_level", c.LogLevel.String()),
		slog.String("image_digest", c.ImageDigest),
		slog.Duration("worker_stop_timeout", c.StopTimeout),
	)
}
