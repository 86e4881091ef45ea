// Package logging builds the JSON slog logger every line of the process goes
// through, with a safety net that blanks known secret strings anywhere in a
// message or attribute.
package logging

import (
	"io"
	"log/slog"
	"strings"
)

const redacted = "[REDACTED]"

// New returns a JSON logger writing to w at level, tagged with service.
// Every string in secrets (shorter than 4 bytes: ignored, too likely to
// blank innocent text) is replaced wherever it appears.
func New(w io.Writer, level slog.Leveler, service string, secrets ...string) *slog.Logger {
	var keep []string
	for _, s := range secrets {
		if len(s) >= 4 {
			keep = append(keep, s)
		}
	}
	scrub := func(s string) string {
		for _, sec := range keep {
			s = strings.ReplaceAll(s, sec, redacted)
		}
		return s
	}
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			switch strings.ToLower(a.Key) {
			case "password", "token", "authorization", "dsn", "database_url", "scheduler_api_token":
				return slog.String(a.Key, redacted)
			}
			switch a.Value.Kind() {
			case slog.KindString:
				return slog.String(a.Key, scrub(a.Value.String()))
			case slog.KindAny:
				switch v := a.Value.Any().(type) {
				case error:
					return slog.String(a.Key, scrub(v.Error()))
				case []byte:
					return slog.String(a.Key, scrub(string(v)))
				}
			}
			return a
		},
	})
	return slog.New(h).With("service", service)
}
