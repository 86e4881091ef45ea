// Package local is the embedded default forge: a bare repository on disk
// where a pull request is a pushed branch plus a JSON record beside the
// repository, which can be listed, updated, commented on, merged (by
// fast-forward), reverted and closed.
package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/ferry-ci/ferry/modules/gitops/forge"
	"github.com/ferry-ci/ferry/modules/gitops/gitrepo"
)

// Forge is a local forge over one bare repository.
type Forge struct {
	bare string
}

// New returns the local forge of the bare repository at path.
func New(bare string) (*Forge, error) {
	if _, err := git.PlainOpen(bare); err != nil {
		return nil, fmt.Errorf("opening %s: %w", bare, err)
	}
	return &Forge{bare: bare}, nil
}

// Record is a stored pull request with its comments.
type Record struct {
	forge.PullRequest
	Comments []string `json:"comments,omitempty"`
}

type db struct {
	Next  int       `json:"next"`
	Pulls []*Record `json:"pulls"`
}

func (f *Forge) path() string { return filepath.Join(f.bare, "ferry-pulls.json") }

// with runs fn under an exclusive file lock (so processes and goroutines
// serialize), saving the records when fn returns nil and write is true.
func (f *Forge) with(write bool, fn func(*db) error) error {
	lock, err := os.OpenFile(filepath.Join(f.bare, "ferry-pulls.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("locking pull records: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	d := &db{Next: 1}
	b, err := os.ReadFile(f.path())
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return err
	default:
		if err := json.Unmarshal(b, d); err != nil {
			return fmt.Errorf("reading pull records: %w", err)
		}
	}
	if err := fn(d); err != nil || !write {
		return err
	}
	out, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return err
	}
	tmp := f.path() + ".tmp"
	if err := os.WriteFile(tmp, out, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, f.path())
}

func (f *Forge) url(n int) string { return fmt.Sprintf("file://%s#pull/%d", f.bare, n) }

func (f *Forge) branchHead(name string) (string, error) {
	r, err := git.PlainOpen(f.bare)
	if err != nil {
		return "", err
	}
	ref, err := r.Reference(plumbing.NewBranchReferenceName(name), true)
	if err != nil {
		return "", fmt.Errorf("reading branch %s: %w", name, err)
	}
	return ref.Hash().String(), nil
}

// OpenPullRequest records a pull request for a pushed head branch; an open
// one with the same head and base returns forge.ErrAlreadyExists.
func (f *Forge) OpenPullRequest(_ context.Context, n forge.NewPullRequest) (*forge.PullRequest, error) {
	sha, err := f.branchHead(n.Head)
	if err != nil {
		return nil, fmt.Errorf("opening pull request: %w", err)
	}
	var out forge.PullRequest
	err = f.with(true, func(d *db) error {
		for _, p := range d.Pulls {
			if p.State == forge.Open && p.Head == n.Head && p.Base == n.Base {
				return fmt.Errorf("opening pull request for %s: %w (#%d)", n.Head, forge.ErrAlreadyExists, p.Number)
			}
		}
		p := &Record{PullRequest: forge.PullRequest{Number: d.Next, URL: f.url(d.Next), Head: n.Head, Base: n.Base,
			HeadSHA: sha, Title: n.Title, Body: n.Body, State: forge.Open}}
		d.Next++
		d.Pulls = append(d.Pulls, p)
		out = p.PullRequest
		return nil
	})
	return &out, err
}

// FindPullRequest returns the open pull request from head into base, or nil.
func (f *Forge) FindPullRequest(_ context.Context, head, base string) (*forge.PullRequest, error) {
	var out *forge.PullRequest
	err := f.with(false, func(d *db) error {
		for _, p := range d.Pulls {
			if p.State == forge.Open && p.Head == head && p.Base == base {
				pr := p.PullRequest
				out = &pr
			}
		}
		return nil
	})
	if out != nil {
		if sha, err := f.branchHead(head); err == nil {
			out.HeadSHA = sha
		}
	}
	return out, err
}

// UpdatePullRequest sets the title and body of pull request number.
func (f *Forge) UpdatePullRequest(_ context.Context, number int, title, body string) (*forge.PullRequest, error) {
	var out forge.PullRequest
	err := f.update(number, func(p *Record) error {
		p.Title, p.Body = title, body
		out = p.PullRequest
		return nil
	})
	return &out, err
}

// Comment appends a comment to pull request number.
func (f *Forge) Comment(_ context.Context, number int, body string) error {
	return f.update(number, func(p *Record) error {
		p.Comments = append(p.Comments, body)
		return nil
	})
}

// List returns the pull requests in the given state (all when empty).
func (f *Forge) List(_ context.Context, state forge.State) ([]forge.PullRequest, error) {
	var out []forge.PullRequest
	err := f.with(false, func(d *db) error {
		for _, p := range d.Pulls {
			if state == "" || p.State == state {
				out = append(out, p.PullRequest)
			}
		}
		return nil
	})
	return out, err
}

// Close closes pull request number without merging.
func (f *Forge) Close(_ context.Context, number int) error {
	return f.update(number, func(p *Record) error {
		p.State = forge.Closed
		return nil
	})
}

// Merge fast-forwards the base branch to the pull request's head (which
// must contain the current base) and deletes the head branch, as a forge's
// "rebase and merge" of a one-commit branch would.
func (f *Forge) Merge(_ context.Context, number int) (*forge.PullRequest, error) {
	var out forge.PullRequest
	err := f.update(number, func(p *Record) error {
		if p.State != forge.Open {
			return fmt.Errorf("merging #%d: %w: it is %s", number, forge.ErrNotMergeable, p.State)
		}
		r, err := git.PlainOpen(f.bare)
		if err != nil {
			return err
		}
		headRef, err := r.Reference(plumbing.NewBranchReferenceName(p.Head), true)
		if err != nil {
			return fmt.Errorf("merging #%d: reading head: %w", number, err)
		}
		baseName := plumbing.NewBranchReferenceName(p.Base)
		baseRef, err := r.Reference(baseName, true)
		if err != nil {
			return fmt.Errorf("merging #%d: reading base: %w", number, err)
		}
		head, err := r.CommitObject(headRef.Hash())
		if err != nil {
			return err
		}
		base, err := r.CommitObject(baseRef.Hash())
		if err != nil {
			return err
		}
		if ok, err := base.IsAncestor(head); err != nil || !ok {
			return fmt.Errorf("merging #%d: %w: %s is behind %s", number, forge.ErrNotMergeable, p.Head, p.Base)
		}
		if err := r.Storer.CheckAndSetReference(plumbing.NewHashReference(baseName, head.Hash), baseRef); err != nil {
			return fmt.Errorf("merging #%d: %w", number, err)
		}
		if err := r.Storer.RemoveReference(headRef.Name()); err != nil {
			return err
		}
		p.State, p.MergeSHA, p.HeadSHA = forge.Merged, head.Hash.String(), head.Hash.String()
		out = p.PullRequest
		return nil
	})
	return &out, err
}

// Revert opens a pull request that reverts merged pull request number: a
// branch revert/<number> with one commit on the current base restoring each
// file the merge changed, provided nobody changed that file since.
func (f *Forge) Revert(ctx context.Context, number int) (*forge.PullRequest, error) {
	var merged forge.PullRequest
	if err := f.update(number, func(p *Record) error { merged = p.PullRequest; return nil }); err != nil {
		return nil, err
	}
	if merged.State != forge.Merged {
		return nil, fmt.Errorf("reverting #%d: %w: it is %s", number, forge.ErrNotMergeable, merged.State)
	}
	repo, err := gitrepo.Open(f.bare)
	if err != nil {
		return nil, err
	}
	mc, err := repo.Commit(plumbing.NewHash(merged.MergeSHA))
	if err != nil {
		return nil, err
	}
	if len(mc.ParentHashes) != 1 {
		return nil, fmt.Errorf("reverting #%d: %w: merge commit has %d parents", number, forge.ErrNotMergeable, len(mc.ParentHashes))
	}
	parent, err := mc.Parent(0)
	if err != nil {
		return nil, err
	}
	patch, err := parent.PatchContext(ctx, mc)
	if err != nil {
		return nil, err
	}
	baseHead, err := f.branchHead(merged.Base)
	if err != nil {
		return nil, err
	}
	base := plumbing.NewHash(baseHead)
	files := map[string][]byte{}
	for _, fp := range patch.FilePatches() {
		from, to := fp.Files()
		if from == nil || to == nil {
			return nil, fmt.Errorf("reverting #%d: %w: it adds or removes a file", number, forge.ErrNotMergeable)
		}
		cur, err := repo.ReadFile(base, to.Path())
		if err != nil {
			return nil, fmt.Errorf("reverting #%d: %w", number, err)
		}
		now, _ := repo.ReadFile(mc.Hash, to.Path())
		if string(cur) != string(now) {
			return nil, fmt.Errorf("reverting #%d: %w: %s changed since", number, forge.ErrNotMergeable, to.Path())
		}
		if files[from.Path()], err = repo.ReadFile(parent.Hash, from.Path()); err != nil {
			return nil, err
		}
	}
	title := fmt.Sprintf("Revert %q", merged.Title)
	msg := fmt.Sprintf("%s\n\nThis reverts commit %s (#%d).\n", title, mc.Hash, number)
	h, err := repo.CommitFiles(base, files, msg, gitrepo.Identity{Name: mc.Committer.Name, Email: mc.Committer.Email}, time.Now())
	if err != nil {
		return nil, err
	}
	branch := fmt.Sprintf("revert/%d", number)
	if err := repo.SetBranch(branch, h, plumbing.ZeroHash); err != nil {
		return nil, fmt.Errorf("reverting #%d: %w", number, err)
	}
	return f.OpenPullRequest(ctx, forge.NewPullRequest{Head: branch, Base: merged.Base, Title: title,
		Body: fmt.Sprintf("Reverts #%d (%s).", number, mc.Hash)})
}

func (f *Forge) update(number int, fn func(*Record) error) error {
	return f.with(true, func(d *db) error {
		i := slices.IndexFunc(d.Pulls, func(p *Record) bool { return p.Number == number })
		if i < 0 {
			return fmt.Errorf("pull request #%d: %w", number, forge.ErrNotFound)
		}
		return fn(d.Pulls[i])
	})
}

// BodyLimit is the longest body the forge stores (GitHub's, to keep
// behaviour alike).
func (f *Forge) BodyLimit() int { return 65536 }

// Comments returns the comments of pull request number.
func (f *Forge) Comments(_ context.Context, number int) ([]string, error) {
	var out []string
	err := f.update(number, func(p *Record) error {
		out = slices.Clone(p.Comments)
		return nil
	})
	return out, err
}
