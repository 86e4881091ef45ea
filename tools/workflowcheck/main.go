// Command workflowcheck checks the GitHub Actions workflows against the
// project's rules: thin wrappers (each job one `dagger call` through the one
// reusable workflow), actions pinned by commit SHA with the version in a
// comment, least-privilege permissions per job (id-token: write only where
// keyless signing happens), path filters, no per-service jobs, secrets only
// as env:// references, and the Dagger CLI pinned to dagger.json's engine.
//
// Usage, from the repository root: go run ./tools/workflowcheck
package main

import (
	"fmt"
	"os"
)

func main() {
	findings, err := CheckRepo(".")
	if err != nil {
		fmt.Fprintln(os.Stderr, "workflowcheck:", err)
		os.Exit(2)
	}
	for _, f := range findings {
		fmt.Println(f)
	}
	if len(findings) > 0 {
		os.Exit(1)
	}
}
