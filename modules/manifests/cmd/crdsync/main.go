// Command crdsync copies the CRDs listed in crds/sources.yaml out of their
// projects' Go modules (fetched with `go mod download -json` at the pinned
// versions, so only the Go module proxy is needed) into
// crds/<name>-<version>/, and records what it copied in crds/lock.yaml.
//
// Usage, from modules/manifests: go run ./cmd/crdsync [-dir crds]
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/ferry-ci/ferry/modules/manifests/crdsync"
)

func main() {
	dir := flag.String("dir", "crds", "folder holding sources.yaml; copies and lock.yaml land there")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := crdsync.Sync(ctx, *dir, crdsync.GoModDownload, func(msg string, args ...any) { log.Info(msg, args...) }); err != nil {
		fmt.Fprintln(os.Stderr, "crdsync:", err)
		os.Exit(1)
	}
}
