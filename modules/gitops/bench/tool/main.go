// Command tool supports bench/run.sh: `tool gen DIR N` writes an N-service
// deployments tree; `tool edit FILE N ROUND` pins N services in a
// kustomization with the gitops overlay editor, as a promotion would.
package main

import (
	"fmt"
	"os"
	"strconv"

	"github.com/ferry-ci/ferry/modules/gitops/internal/deploytree"
	"github.com/ferry-ci/ferry/modules/gitops/overlay"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "tool:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) < 3 {
		return fmt.Errorf("usage: tool gen DIR N | tool edit FILE N ROUND")
	}
	n, err := strconv.Atoi(args[2])
	if err != nil {
		return err
	}
	switch args[0] {
	case "gen":
		return deploytree.Write(args[1], n)
	case "edit":
		round := 1
		if len(args) > 3 {
			if round, err = strconv.Atoi(args[3]); err != nil {
				return err
			}
		}
		src, err := os.ReadFile(args[1])
		if err != nil {
			return err
		}
		ims := make([]overlay.Image, n)
		for i := range n {
			ims[i] = overlay.Image{Name: fmt.Sprintf("ghcr.io/acme/svc%03d", i), NewTag: deploytree.Tag(round, i), Digest: deploytree.Digest(round, i)}
		}
		res, err := overlay.SetImages(src, ims)
		if err != nil {
			return err
		}
		return os.WriteFile(args[1], res.Content, 0o644)
	}
	return fmt.Errorf("unknown command %q", args[0])
}
