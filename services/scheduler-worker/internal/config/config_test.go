package config_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ci/ferry/services/scheduler-worker/internal/config"
)

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

const (
	dbURL = "postgres://worker:pg-pass-7731@127.0.0.1:5432/ferry?sslmode=disable"
	token = "tok-8f3a9c2e1d"
)

func valid() map[string]string {
	return map[string]string{
		"TEMPORAL_ADDRESS":    "127.0.0.1:7233",
		"TEMPORAL_TASK_QUEUE": "scheduled-runs",
		"DATABASE_URL":        dbURL,
		"APP_BASE_URL":        "http://127.0.0.1:8080/",
		"SCHEDULER_API_TOKEN": token,
	}
}

func with(changes map[string]string) map[string]string {
	env := valid()
	for k, v := range changes {
		if v == "<unset>" {
			delete(env, k)
			continue
		}
		env[k] = v
	}
	return env
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    config.Config
		wantErr []string // invalid variable names, in order
	}{
		{
			name: "defaults",
			env:  valid(),
			want: config.Config{
				TemporalAddress: "127.0.0.1:7233", TemporalNamespace: "default", TaskQueue: "scheduled-runs",
				DatabaseURL: dbURL, AppBaseURL: "http://127.0.0.1:8080", APIToken: token,
				HealthPort: 9000, LogLevel: slog.LevelInfo, ImageDigest: "unknown", StopTimeout: 20 * time.Second,
			},
		},
		{
			name: "everything set",
			env: with(map[string]string{"TEMPORAL_NAMESPACE": "ferry", "HEALTH_PORT": "9100", "LOG_LEVEL": "DEBUG",
				"IMAGE_DIGEST": "sha256:0123", "WORKER_STOP_TIMEOUT": "25s", "APP_BASE_URL": "https://app.internal/api"}),
			want: config.Config{
				TemporalAddress: "127.0.0.1:7233", TemporalNamespace: "ferry", TaskQueue: "scheduled-runs",
				DatabaseURL: dbURL, AppBaseURL: "https://app.internal/api", APIToken: token,
				HealthPort: 9100, LogLevel: slog.LevelDebug, ImageDigest: "sha256:0123", StopTimeout: 25 * time.Second,
			},
		},
		{
			name:    "nothing set",
			env:     map[string]string{},
			wantErr: []string{"TEMPORAL_ADDRESS", "TEMPORAL_TASK_QUEUE", "DATABASE_URL", "APP_BASE_URL", "SCHEDULER_API_TOKEN"},
		},
		{
			name: "every kind of invalid at once",
			env: map[string]string{
				"TEMPORAL_ADDRESS": "no-port", "TEMPORAL_TASK_QUEUE": " ", "DATABASE_URL": "mysql://u:pg-pass-7731@h/x",
				"APP_BASE_URL": "ftp://" + token + "@app", "SCHEDULER_API_TOKEN": "has space " + token,
				"HEALTH_PORT": "654321", "LOG_LEVEL": "verbose", "WORKER_STOP_TIMEOUT": "47s",
			},
			wantErr: []string{"TEMPORAL_ADDRESS", "TEMPORAL_TASK_QUEUE", "DATABASE_URL", "APP_BASE_URL", "SCHEDULER_API_TOKEN", "HEALTH_PORT", "LOG_LEVEL", "WORKER_STOP_TIMEOUT"},
		},
		{
			name:    "database URL pgx rejects",
			env:     with(map[string]string{"DATABASE_URL": "postgres://u:pg-pass-7731@h:5432/x?sslmode=sometimes"}),
			wantErr: []string{"DATABASE_URL"},
		},
		{
			name:    "app URL with credentials",
			env:     with(map[string]string{"APP_BASE_URL": "http://u:" + token + "@app"}),
			wantErr: []string{"APP_BASE_URL"},
		},
		{
			name:    "stop timeout negative",
			env:     with(map[string]string{"WORKER_STOP_TIMEOUT": "-5m"}),
			wantErr: []string{"WORKER_STOP_TIMEOUT"},
		},
		{
			name:    "temporal port out of range",
			env:     with(map[string]string{"TEMPORAL_ADDRESS": "127.0.0.1:99999"}),
			wantErr: []string{"TEMPORAL_ADDRESS"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := config.Load(lookup(tt.env))
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if got != tt.want {
					t.Fatalf("Load =\n%+v\nwant\n%+v", got, tt.want)
				}
				return
			}
			var cerr *config.Error
			if !errors.As(err, &cerr) {
				t.Fatalf("Load error = %v, want a *config.Error", err)
			}
			if strings.Join(cerr.Names(), ",") != strings.Join(tt.wantErr, ",") {
				t.Fatalf("invalid variables = %v, want %v", cerr.Names(), tt.wantErr)
			}
			for name, v := range tt.env {
				if v = strings.TrimSpace(v); v != "" && strings.Contains(err.Error(), v) {
					t.Errorf("error %q echoes the value of %s", err, name)
				}
			}
			for _, secret := range []string{"pg-pass-7731", token} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q leaks a secret", err)
				}
			}
		})
	}
}

func TestConfigNeverPrintsSecrets(t *testing.T) {
	cfg, err := config.Load(lookup(valid()))
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(cfg)
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("start", "config", cfg, "token", cfg.APIToken, "db", cfg.DatabaseURL)
	for _, out := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), string(js), buf.String()} {
		for _, secret := range []string{"pg-pass-7731", token} {
			if strings.Contains(out, secret) {
				t.Fatalf("output leaks a secret: %s", out)
			}
		}
	}
	if !strings.Contains(buf.String(), `"task_queue":"scheduled-runs"`) {
		t.Fatalf("config log lacks its safe fields: %s", buf.String())
	}
	if cfg.APIToken.Reveal() != token || cfg.DatabaseURL.Reveal() != dbURL {
		t.Fatal("Reveal lost a value")
	}
}
