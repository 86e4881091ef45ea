// Package migrations embeds the versioned SQL migrations of the schema the
// scheduler-worker uses. Files are named NNNN_name.sql; each runs once, in
// version order, in its own transaction. An applied file is never edited:
// its checksum is recorded and a change is an error. Add a new file instead.
package migrations

import "embed"

// FS holds every migration file, read by the migrate package.
//
//go:embed *.sql
var FS embed.FS
