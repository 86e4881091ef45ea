package config_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ci/ferry/services/migrator/internal/config"
)

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

const goodURL = "postgres://app:hunter2-pass@127.0.0.1:5432/ferry?sslmode=disable"

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    config.Config
		wantErr []string // variable names, in order
	}{
		{
			name: "defaults",
			env:  map[string]string{"DATABASE_URL": goodURL},
			want: config.Config{DatabaseURL: goodURL, HealthPort: 9000, LogLevel: slog.LevelInfo, ImageDigest: "unknown", Timeout: 5 * time.Minute},
		},
		{
			name: "everything set",
			env:  map[string]string{"DATABASE_URL": goodURL, "HEALTH_PORT": "9100", "LOG_LEVEL": "debug", "IMAGE_DIGEST": "sha256:abc", "MIGRATE_TIMEOUT": "30s"},
			want: config.Config{DatabaseURL: goodURL, HealthPort: 9100, LogLevel: slog.LevelDebug, ImageDigest: "sha256:abc", Timeout: 30 * time.Second},
		},
		{
			name:    "every problem at once",
			env:     map[string]string{"HEALTH_PORT": "70000", "LOG_LEVEL": "loud", "MIGRATE_TIMEOUT": "-1s"},
			wantErr: []string{"DATABASE_URL", "HEALTH_PORT", "LOG_LEVEL", "MIGRATE_TIMEOUT"},
		},
		{
			name:    "empty counts as unset",
			env:     map[string]string{"DATABASE_URL": "  "},
			wantErr: []string{"DATABASE_URL"},
		},
		{
			name:    "not a postgres URL",
			env:     map[string]string{"DATABASE_URL": "mysql://root:hunter2-pass@db/x"},
			wantErr: []string{"DATABASE_URL"},
		},
		{
			name:    "unparseable postgres URL",
			env:     map[string]string{"DATABASE_URL": "postgres://app:hunter2-pass@127.0.0.1:5432/x?sslmode=bogus"},
			wantErr: []string{"DATABASE_URL"},
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
					t.Fatalf("Load = %+v, want %+v", got, tt.want)
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
			for _, v := range tt.env {
				if strings.TrimSpace(v) != "" && strings.Contains(err.Error(), v) {
					t.Fatalf("error %q echoes the value %q", err, v)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error %q leaks the password", err)
			}
		})
	}
}

func TestSecretNeverPrints(t *testing.T) {
	cfg, err := config.Load(lookup(map[string]string{"DATABASE_URL": goodURL}))
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(cfg)
	var b strings.Builder
	slog.New(slog.NewJSONHandler(&b, nil)).Info("cfg", "cfg", cfg, "url", cfg.DatabaseURL)
	for _, out := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), cfg.String(), string(js), b.String()} {
		if strings.Contains(out, "hunter2") {
			t.Fatalf("output leaks the password: %s", out)
		}
	}
	if cfg.DatabaseURL.Reveal() != goodURL {
		t.Fatal("Reveal lost the value")
	}
}
