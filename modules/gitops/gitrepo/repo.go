package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"
)

// Errors a caller branches on. ErrStale and ErrNetwork are retryable;
// ErrAuth is terminal.
var (
	// ErrStale means the remote ref moved since it was read: the push lease
	// failed, the update was not a fast-forward or the ref was locked.
	ErrStale = errors.New("remote ref changed since it was read")
	// ErrNetwork means the remote could not be reached or the connection broke.
	ErrNetwork = errors.New("remote unreachable")
	// ErrAuth means the remote refused the credentials.
	ErrAuth = errors.New("remote refused the credentials")
)

// Retryable reports whether a git error may succeed when the caller rebuilds
// and tries again.
func Retryable(err error) bool {
	return errors.Is(err, ErrStale) || errors.Is(err, ErrNetwork)
}

// Identity names the author and committer of commits.
type Identity struct {
	Name  string
	Email string
}

// Auth holds credentials for a remote. Token is sent as an HTTPS basic-auth
// password (user Username, default "x-access-token", which GitHub and Gitea
// both accept); SSHKey is a PEM private key for ssh:// and scp-like URLs.
// Credentials never appear in errors.
type Auth struct {
	Username string
	Token    string
	SSHKey   []byte
	// SSHKnownHosts is a known_hosts file; empty means the user's default.
	SSHKnownHosts string
}

func (a Auth) method(url string) (transport.AuthMethod, error) {
	ep, err := transport.NewEndpoint(url)
	if err != nil {
		return nil, fmt.Errorf("parsing remote URL: %w", err)
	}
	switch ep.Protocol {
	case "http", "https":
		if a.Token == "" {
			return nil, nil
		}
		user := a.Username
		if user == "" {
			user = "x-access-token"
		}
		return &githttp.BasicAuth{Username: user, Password: a.Token}, nil
	case "ssh":
		if len(a.SSHKey) == 0 {
			return nil, nil
		}
		user := ep.User
		if user == "" {
			user = "git"
		}
		keys, err := gitssh.NewPublicKeys(user, a.SSHKey, "")
		if err != nil {
			return nil, fmt.Errorf("reading SSH key: %w", err)
		}
		var files []string
		if a.SSHKnownHosts != "" {
			files = []string{a.SSHKnownHosts}
		}
		cb, err := gitssh.NewKnownHostsCallback(files...)
		if err != nil {
			return nil, fmt.Errorf("reading known hosts: %w", err)
		}
		keys.HostKeyCallback = ssh.HostKeyCallback(cb)
		return keys, nil
	}
	return nil, nil
}

// Repo is a clone of one remote branch. It never checks out a working
// tree: files are read from and commits written to the object store.
type Repo struct {
	repo *git.Repository
	dir  string
	auth transport.AuthMethod
}

// Clone clones branch of url into dir (which must not exist or be empty).
func Clone(ctx context.Context, url, dir, branch string, auth Auth) (*Repo, error) {
	am, err := auth.method(url)
	if err != nil {
		return nil, err
	}
	r, err := git.PlainCloneContext(ctx, dir, false, &git.CloneOptions{
		URL:           url,
		Auth:          am,
		ReferenceName: plumbing.NewBranchReferenceName(branch),
		SingleBranch:  true,
		Tags:          git.NoTags,
		NoCheckout:    true,
	})
	if err != nil {
		return nil, fmt.Errorf("cloning %s of %s: %w", branch, redact(url), classify(err))
	}
	return &Repo{repo: r, dir: dir, auth: am}, nil
}

func remoteRef(branch string) plumbing.ReferenceName {
	return plumbing.NewRemoteReferenceName("origin", branch)
}

// Fetch updates the remote-tracking ref of branch and returns its head, or
// ok false when the remote has no such branch.
func (r *Repo) Fetch(ctx context.Context, branch string) (plumbing.Hash, bool, error) {
	spec := config.RefSpec(fmt.Sprintf("+refs/heads/%s:%s", branch, remoteRef(branch)))
	err := r.repo.FetchContext(ctx, &git.FetchOptions{RemoteName: "origin", RefSpecs: []config.RefSpec{spec}, Auth: r.auth, Tags: git.NoTags, Force: true})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		var nf git.NoMatchingRefSpecError
		if errors.As(err, &nf) || strings.Contains(err.Error(), "couldn't find remote ref") {
			_ = r.repo.Storer.RemoveReference(remoteRef(branch))
			return plumbing.ZeroHash, false, nil
		}
		return plumbing.ZeroHash, false, fmt.Errorf("fetching %s: %w", branch, classify(err))
	}
	ref, err := r.repo.Reference(remoteRef(branch), true)
	if err != nil {
		return plumbing.ZeroHash, false, nil
	}
	return ref.Hash(), true, nil
}

// RemoteHead asks the remote for the head of branch without fetching.
func (r *Repo) RemoteHead(ctx context.Context, branch string) (plumbing.Hash, bool, error) {
	rem, err := r.repo.Remote("origin")
	if err != nil {
		return plumbing.ZeroHash, false, err
	}
	refs, err := rem.ListContext(ctx, &git.ListOptions{Auth: r.auth})
	if err != nil {
		if errors.Is(err, transport.ErrEmptyRemoteRepository) {
			return plumbing.ZeroHash, false, nil
		}
		return plumbing.ZeroHash, false, fmt.Errorf("listing remote refs: %w", classify(err))
	}
	name := plumbing.NewBranchReferenceName(branch)
	for _, ref := range refs {
		if ref.Name() == name {
			return ref.Hash(), true, nil
		}
	}
	return plumbing.ZeroHash, false, nil
}

// Commit returns a commit object.
func (r *Repo) Commit(h plumbing.Hash) (*object.Commit, error) {
	c, err := r.repo.CommitObject(h)
	if err != nil {
		return nil, fmt.Errorf("reading commit %s: %w", h, err)
	}
	return c, nil
}

// ReadFile reads path (slash-separated, relative to the root) at commit h;
// a missing file returns an error wrapping os.ErrNotExist.
func (r *Repo) ReadFile(h plumbing.Hash, path string) ([]byte, error) {
	c, err := r.Commit(h)
	if err != nil {
		return nil, err
	}
	f, err := c.File(path)
	if errors.Is(err, object.ErrFileNotFound) {
		return nil, fmt.Errorf("reading %s at %s: %w", path, h.String()[:12], os.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s at %s: %w", path, h.String()[:12], err)
	}
	rd, err := f.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	return io.ReadAll(rd)
}

// DirExists reports whether a folder exists at commit h.
func (r *Repo) DirExists(h plumbing.Hash, path string) (bool, error) {
	c, err := r.Commit(h)
	if err != nil {
		return false, err
	}
	t, err := c.Tree()
	if err != nil {
		return false, err
	}
	_, err = t.Tree(path)
	if errors.Is(err, object.ErrDirectoryNotFound) || errors.Is(err, object.ErrEntryNotFound) {
		return false, nil
	}
	return err == nil, err
}

// subtree returns the tree of dir (slash-separated, "" or "." for the whole
// tree) at commit h, and the prefix that turns its paths into paths from
// the root.
func (r *Repo) subtree(h plumbing.Hash, dir string) (*object.Tree, string, error) {
	c, err := r.Commit(h)
	if err != nil {
		return nil, "", err
	}
	t, err := c.Tree()
	if err != nil {
		return nil, "", err
	}
	if dir == "" || dir == "." {
		return t, "", nil
	}
	if t, err = t.Tree(dir); err != nil {
		return nil, "", fmt.Errorf("reading %s at %s: %w", dir, h.String()[:12], err)
	}
	return t, dir + "/", nil
}

// Files returns every file under dir (slash-separated, "" or "." for the
// whole tree) at commit h, keyed by path from the root.
func (r *Repo) Files(h plumbing.Hash, dir string) (map[string][]byte, error) {
	t, prefix, err := r.subtree(h, dir)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	err = t.Files().ForEach(func(f *object.File) error {
		if !f.Mode.IsFile() {
			return nil
		}
		s, err := f.Contents()
		out[prefix+f.Name] = []byte(s)
		return err
	})
	return out, err
}

// Blobs returns the blob hash of every file under dir (slash-separated, ""
// or "." for the whole tree) at commit h, keyed by path from the root,
// without reading the files.
func (r *Repo) Blobs(h plumbing.Hash, dir string) (map[string]plumbing.Hash, error) {
	t, prefix, err := r.subtree(h, dir)
	if err != nil {
		return nil, err
	}
	w := object.NewTreeWalker(t, true, nil)
	defer w.Close()
	out := map[string]plumbing.Hash{}
	for {
		name, e, err := w.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("walking %s at %s: %w", dir, h.String()[:12], err)
		}
		if e.Mode.IsFile() {
			out[prefix+name] = e.Hash
		}
	}
}

// CommitFiles writes files (slash-separated paths) over parent's tree and
// stores one commit by id, returning its hash. Nothing is checked out.
func (r *Repo) CommitFiles(parent plumbing.Hash, files map[string][]byte, message string, id Identity, when time.Time) (plumbing.Hash, error) {
	pc, err := r.Commit(parent)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	tree := pc.TreeHash
	for p, b := range files {
		blob, err := r.store(plumbing.BlobObject, b)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("storing %s: %w", p, err)
		}
		if tree, err = r.putPath(tree, strings.Split(p, "/"), blob); err != nil {
			return plumbing.ZeroHash, fmt.Errorf("writing %s: %w", p, err)
		}
	}
	sig := object.Signature{Name: id.Name, Email: id.Email, When: when}
	c := &object.Commit{Author: sig, Committer: sig, Message: message, TreeHash: tree, ParentHashes: []plumbing.Hash{parent}}
	obj := r.repo.Storer.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	h, err := r.repo.Storer.SetEncodedObject(obj)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("committing: %w", err)
	}
	return h, nil
}

func (r *Repo) store(t plumbing.ObjectType, b []byte) (plumbing.Hash, error) {
	obj := r.repo.Storer.NewEncodedObject()
	obj.SetType(t)
	w, err := obj.Writer()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if _, err := w.Write(b); err != nil {
		return plumbing.ZeroHash, err
	}
	if err := w.Close(); err != nil {
		return plumbing.ZeroHash, err
	}
	return r.repo.Storer.SetEncodedObject(obj)
}

// putPath returns the hash of tree th with the blob at parts replaced or added.
func (r *Repo) putPath(th plumbing.Hash, parts []string, blob plumbing.Hash) (plumbing.Hash, error) {
	t := &object.Tree{}
	if !th.IsZero() {
		var err error
		if t, err = r.repo.TreeObject(th); err != nil {
			return plumbing.ZeroHash, err
		}
	}
	entries := slices.Clone(t.Entries)
	i := slices.IndexFunc(entries, func(e object.TreeEntry) bool { return e.Name == parts[0] })
	e := object.TreeEntry{Name: parts[0], Mode: filemode.Regular, Hash: blob}
	if len(parts) > 1 {
		sub := plumbing.ZeroHash
		if i >= 0 {
			if entries[i].Mode != filemode.Dir {
				return plumbing.ZeroHash, fmt.Errorf("%s is not a folder", parts[0])
			}
			sub = entries[i].Hash
		}
		h, err := r.putPath(sub, parts[1:], blob)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		e = object.TreeEntry{Name: parts[0], Mode: filemode.Dir, Hash: h}
	} else if i >= 0 && entries[i].Mode == filemode.Executable {
		e.Mode = filemode.Executable
	}
	if i >= 0 {
		entries[i] = e
	} else {
		entries = append(entries, e)
	}
	// git orders entries by name, folders as if their name ended in "/".
	key := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	slices.SortFunc(entries, func(a, b object.TreeEntry) int { return strings.Compare(key(a), key(b)) })
	nt := &object.Tree{Entries: entries}
	obj := r.repo.Storer.NewEncodedObject()
	if err := nt.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return r.repo.Storer.SetEncodedObject(obj)
}

// Push sets branch on the remote to h with a lease: the push only succeeds
// if the remote branch is still at old (zero: the branch must not exist, or
// must be an ancestor of h). A lost lease returns ErrStale.
func (r *Repo) Push(ctx context.Context, h plumbing.Hash, branch string, old plumbing.Hash) error {
	local := plumbing.NewBranchReferenceName("ferry-push/" + branch)
	if err := r.repo.Storer.SetReference(plumbing.NewHashReference(local, h)); err != nil {
		return err
	}
	defer r.repo.Storer.RemoveReference(local)
	dst := plumbing.NewBranchReferenceName(branch)
	opts := &git.PushOptions{RemoteName: "origin", Auth: r.auth}
	if old.IsZero() {
		opts.RefSpecs = []config.RefSpec{config.RefSpec(fmt.Sprintf("%s:%s", local, dst))}
	} else {
		opts.RefSpecs = []config.RefSpec{config.RefSpec(fmt.Sprintf("+%s:%s", local, dst))}
		opts.RequireRemoteRefs = []config.RefSpec{config.RefSpec(fmt.Sprintf("%s:%s", old, dst))}
	}
	err := r.repo.PushContext(ctx, opts)
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return fmt.Errorf("pushing %s: %w", branch, classify(err))
	}
	return nil
}

// Delete removes branch from the remote if it is still at old.
func (r *Repo) Delete(ctx context.Context, branch string, old plumbing.Hash) error {
	dst := plumbing.NewBranchReferenceName(branch)
	err := r.repo.PushContext(ctx, &git.PushOptions{
		RemoteName:        "origin",
		Auth:              r.auth,
		RefSpecs:          []config.RefSpec{config.RefSpec(":" + dst.String())},
		RequireRemoteRefs: []config.RefSpec{config.RefSpec(fmt.Sprintf("%s:%s", old, dst))},
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return fmt.Errorf("deleting %s: %w", branch, classify(err))
	}
	return nil
}

// Log walks the history from h, newest first, and calls fn for each commit
// until fn returns false: the first-parent chain, and right after each merge
// the commits it brought in (each other parent's chain down to where it
// meets the first parent's history). A promotion merged with a merge commit
// (GitHub's and Gitea's default) is thus seen where it landed, not skipped.
func (r *Repo) Log(h plumbing.Hash, fn func(*object.Commit) (bool, error)) error {
	_, err := r.log(h, nil, fn)
	return err
}

// log walks h's first-parent chain until a commit in until's history (nil:
// to the root), descending into merges; false when fn stopped the walk.
func (r *Repo) log(h plumbing.Hash, until *object.Commit, fn func(*object.Commit) (bool, error)) (bool, error) {
	for !h.IsZero() {
		c, err := r.Commit(h)
		if err != nil {
			return false, err
		}
		if until != nil {
			if c.Hash == until.Hash {
				return true, nil
			}
			merged, err := c.IsAncestor(until)
			if err != nil {
				return false, fmt.Errorf("walking the history at %s: %w", c.Hash.String()[:12], err)
			}
			if merged {
				return true, nil
			}
		}
		more, err := fn(c)
		if err != nil || !more {
			return false, err
		}
		if len(c.ParentHashes) == 0 {
			return true, nil
		}
		if len(c.ParentHashes) > 1 {
			first, err := r.Commit(c.ParentHashes[0])
			if err != nil {
				return false, err
			}
			for _, p := range c.ParentHashes[1:] {
				if more, err := r.log(p, first, fn); err != nil || !more {
					return false, err
				}
			}
		}
		h = c.ParentHashes[0]
	}
	return true, nil
}

// classify maps go-git and transport failures onto the package's sentinels.
func classify(err error) error {
	msg := err.Error()
	var netErr net.Error
	switch {
	case errors.Is(err, git.ErrNonFastForwardUpdate),
		strings.Contains(msg, "required to be"),
		strings.Contains(msg, "non-fast-forward"),
		strings.Contains(msg, "cannot lock ref"),
		strings.Contains(msg, "failed to update ref"),
		strings.Contains(msg, "incorrect old value"),
		strings.Contains(msg, "stale info"),
		strings.Contains(msg, "fetch first"):
		return fmt.Errorf("%w: %v", ErrStale, err)
	case errors.Is(err, transport.ErrAuthenticationRequired),
		errors.Is(err, transport.ErrAuthorizationFailed),
		errors.Is(err, transport.ErrInvalidAuthMethod):
		return fmt.Errorf("%w: %v", ErrAuth, err)
	case errors.As(err, &netErr), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		strings.Contains(msg, "connection reset"), strings.Contains(msg, "connection refused"),
		strings.Contains(msg, "unexpected EOF"), strings.HasSuffix(msg, ": EOF"), strings.Contains(msg, "broken pipe"),
		strings.Contains(msg, "502 Bad Gateway"), strings.Contains(msg, "503"), strings.Contains(msg, "504"):
		return fmt.Errorf("%w: %v", ErrNetwork, err)
	}
	return err
}

// redact drops userinfo from a URL for messages.
func redact(url string) string {
	if i := strings.Index(url, "://"); i >= 0 {
		if j := strings.Index(url[i+3:], "@"); j >= 0 && !strings.Contains(url[i+3:i+3+j], "/") {
			return url[:i+3] + url[i+3+j+1:]
		}
	}
	return url
}

// Open opens a repository on disk (bare or not) to read commits and write
// commits and refs directly, as a local forge does.
func Open(path string) (*Repo, error) {
	r, err := git.PlainOpen(path)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	return &Repo{repo: r, dir: path}, nil
}

// SetBranch moves a local branch from old to h (compare-and-swap; zero old:
// the branch must not exist).
func (r *Repo) SetBranch(branch string, h, old plumbing.Hash) error {
	name := plumbing.NewBranchReferenceName(branch)
	var prev *plumbing.Reference
	if !old.IsZero() {
		prev = plumbing.NewHashReference(name, old)
	} else if _, err := r.repo.Reference(name, false); err == nil {
		return fmt.Errorf("creating %s: %w", branch, ErrStale)
	}
	if err := r.repo.Storer.CheckAndSetReference(plumbing.NewHashReference(name, h), prev); err != nil {
		return fmt.Errorf("updating %s: %w: %v", branch, ErrStale, err)
	}
	return nil
}
