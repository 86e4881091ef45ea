// Package gitrepo is the git side of promotion, on go-git: clone one branch,
// commit files as a configured identity, and push a branch with a lease
// (compare-and-swap on the old head) so concurrent writers never lose each
// other's work. Failures are classified: ErrStale and ErrNetwork are
// retryable, ErrAuth is terminal.
package gitrepo
