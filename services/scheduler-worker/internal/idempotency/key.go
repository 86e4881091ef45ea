// Package idempotency derives the key that names one schedule slot. The key
// goes to the app's API as the Idempotency-Key header and is the runs
// table's primary key, so a retried activity, a replayed or reset workflow,
// or a restarted worker never starts two graph runs for one slot.
package idempotency

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Key names the slot of scheduleID at its nominal scheduledAt time (the
// TemporalScheduledStartTime search attribute), independent of the time zone
// and sub-microsecond noise. The workflow run ID is deliberately not part of
// it: it changes on reset and retry, and the slot does not.
func Key(scheduleID string, scheduledAt time.Time) string {
	return hashed("schedule", scheduleID, scheduledAt.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano))
}

// FromWorkflowID is the fallback for a run started outside a schedule (no
// search attributes): the workflow ID is the only stable name it has.
// Scheduled workflow IDs carry the slot time too, so the two never collide
// in practice, and the prefix keeps them apart in any case.
func FromWorkflowID(workflowID string) string {
	return hashed("workflow", workflowID)
}

func hashed(kind string, parts ...string) string {
	h := sha256.New()
	h.Write([]byte("ferry-scheduled-run/v1\x00" + kind))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	return "sr1-" + hex.EncodeToString(h.Sum(nil))
}
