package idempotency_test

import (
	"regexp"
	"testing"
	"time"

	"github.com/ferry-ci/ferry/services/scheduler-worker/internal/idempotency"
)

func TestKey(t *testing.T) {
	at := time.Date(2026, 11, 27, 6, 5, 34, 0, time.UTC)
	base := idempotency.Key("nightly", at)
	tests := []struct {
		name string
		key  string
		same bool
	}{
		{name: "same slot", key: idempotency.Key("nightly", at), same: true},
		{name: "same instant in another zone", key: idempotency.Key("nightly", at.In(time.FixedZone("CET", 3600))), same: true},
		{name: "monotonic reading and nanoseconds ignored", key: idempotency.Key("nightly", at.Add(300*time.Nanosecond)), same: true},
		{name: "next slot", key: idempotency.Key("nightly", at.Add(time.Second))},
		{name: "other schedule", key: idempotency.Key("hourly", at)},
		{name: "separator cannot be forged", key: idempotency.Key("nightly\x002026-11-27T06:05:34Z", time.Time{})},
		{name: "workflow fallback differs", key: idempotency.FromWorkflowID("nightly")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if (tt.key == base) != tt.same {
				t.Fatalf("Key = %s, base %s, want same=%v", tt.key, base, tt.same)
			}
		})
	}
}

// TestKeyGolden pins the derivation: changing it would give every slot in
// flight a new key, and the app would start those graph runs a second time.
func TestKeyGolden(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{
			name: "schedule slot",
			got:  idempotency.Key("nightly", time.Date(2026, 11, 27, 6, 5, 34, 0, time.UTC)),
			want: "sr1-f482b0be33fe7f561e47773bde380cfa9ff75af6d95e5c15fe10a648bd2ef371",
		},
		{
			name: "workflow ID fallback",
			got:  idempotency.FromWorkflowID("manual-1"),
			want: "sr1-16e987eba97171860d83f574f10f467b8c21c8ad6f22943a5a4777c1c3ea0985",
		},
	}
	header := regexp.MustCompile(`^sr1-[0-9a-f]{64}$`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Fatalf("key = %s, want %s", tt.got, tt.want)
			}
			if !header.MatchString(tt.got) {
				t.Fatalf("key %q is not a header-safe token", tt.got)
			}
		})
	}
}
