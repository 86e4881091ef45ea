// Package overlay edits the images: list of a kustomization by splicing
// bytes: yaml.v3 only locates the scalars (line and column), and SetImages
// replaces exactly their bytes, so comments, blank lines, quoting, key order,
// indentation, CRLF, `---` and Flux `$imagepolicy` markers stay where they
// are. Verify renders the overlay with kustomize's Go API (krusty) to prove
// that each name matches an image of the base and each digest reaches a
// workload; RenderBase renders an overlay once without its images: entries
// for repeated checks, and a Cache keeps such renders on disk between
// processes.
package overlay
