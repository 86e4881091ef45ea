package logging_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/ferry-ci/ferry/services/scheduler-worker/internal/logging"
)

func TestSecretsAreScrubbed(t *testing.T) {
	var buf bytes.Buffer
	log := logging.New(&buf, slog.LevelDebug, "scheduler-worker", "s3cr3t-pass", "abc")
	log.Info("connecting to postgres://u:s3cr3t-pass@h/db",
		"error", fmt.Errorf("dialing: %w", errors.New("bad password s3cr3t-pass")),
		"password", "anything",
		slog.Group("g", "dsn", "x"),
		"note", "abc stays: shorter than 4 bytes")
	out := buf.String()
	if strings.Contains(out, "s3cr3t-pass") || strings.Contains(out, "anything") {
		t.Fatalf("log leaks a secret: %s", out)
	}
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("log line is not JSON: %v: %s", err, out)
	}
	if line["service"] != "scheduler-worker" || line["note"] != "abc stays: shorter than 4 bytes" {
		t.Fatalf("log line = %v", line)
	}
}
