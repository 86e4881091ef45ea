package gitops

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/ferry-ci/ferry/modules/gitops/forge"
	"github.com/ferry-ci/ferry/modules/gitops/gitrepo"
	"github.com/ferry-ci/ferry/modules/gitops/overlay"
)

// Terminal errors of promotion: the input or the repository must change
// before a retry can succeed.
var (
	ErrInvalidRequest     = errors.New("invalid promotion request")
	ErrUnknownEnvironment = errors.New("unknown environment")
	ErrMissingOverlay     = errors.New("overlay has no kustomization")
	ErrGateFailed         = errors.New("promotion gate failed")
	ErrForeignCommit      = errors.New("promotion branch has a commit not made by the bot")
	ErrManualChange       = errors.New("current pin was set by a person")
	ErrNothingToRollBack  = errors.New("nothing to roll back")
)

// Retryable reports whether a promotion error may succeed on a later run
// (network failures, lost leases, forge 429/5xx); everything else is terminal.
func Retryable(err error) bool {
	if gitrepo.Retryable(err) {
		return true
	}
	var se *forge.StatusError
	var ue *url.Error   // a forge API call that never got an answer
	var oe *net.OpError // or whose connection broke
	return errors.As(err, &se) && se.Temporary() || errors.As(err, &ue) || errors.As(err, &oe)
}

// Forge is what promotion needs of a forge; forge/local, forge/github and
// forge/gitea provide it.
type Forge interface {
	OpenPullRequest(ctx context.Context, n forge.NewPullRequest) (*forge.PullRequest, error)
	FindPullRequest(ctx context.Context, head, base string) (*forge.PullRequest, error)
	UpdatePullRequest(ctx context.Context, number int, title, body string) (*forge.PullRequest, error)
	BodyLimit() int
}

// Action is what a promotion did (or, for a plan, would do).
type Action string

// Actions.
const (
	Created Action = "created"
	Updated Action = "updated"
	Noop    Action = "noop"
)

// Image is one image to pin.
type Image struct {
	// Service names the service (branch name, rollback). Required.
	Service string
	// Name is the images: entry name, the image name in the base. Required.
	Name string
	// NewName optionally renames the image.
	NewName string
	// Tag is the human-readable tag written beside the digest.
	Tag string
	// Digest is the manifest (or index) digest. Required.
	Digest string
	// Platforms of an index, for the pull request.
	Platforms []string
	// SourceRepo (https URL), SourceCommit and PreviousCommit (the commit
	// the environment ran before) describe the change for reviewers.
	SourceRepo, SourceCommit, PreviousCommit string
	// SBOM and Provenance point at the attestations.
	SBOM, Provenance string
}

// Request asks for images to be pinned in one environment.
type Request struct {
	Env    string
	Images []Image
	// CIRunURL links the run that built the images.
	CIRunURL string
	// Batch names a shared branch promote/<env>/<Batch> that accumulates
	// images across runs; empty means promote/<env>/<service> (one service).
	Batch string
}

// Result is the typed outcome of Promote, Plan and Rollback.
type Result struct {
	Action      Action
	Env         string
	Branch      string
	PullRequest *forge.PullRequest
	HeadSHA     string
	// Digests maps image name to the digest the branch pins.
	Digests map[string]string
	Gates   []GateResult
	Diff    string
	Title   string
	Body    string
	// Attempts counts the rebuilds (1 without a race).
	Attempts int
}

// Promoter opens promotion pull requests against one deployments repository.
// It is safe for concurrent use; runs on one branch take turns in-process
// (other processes are handled by the push lease and rebuild).
type Promoter struct {
	url   string
	forge Forge
	o     options

	mu       sync.Mutex
	branches map[string]*sync.Mutex
	bases    map[string]*overlay.Base // baseKey -> overlay rendered without images
}

func (p *Promoter) lock(branch string) func() {
	p.mu.Lock()
	if p.branches == nil {
		p.branches = map[string]*sync.Mutex{}
	}
	m, ok := p.branches[branch]
	if !ok {
		m = &sync.Mutex{}
		p.branches[branch] = m
	}
	p.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// baseRender returns the overlay at file rendered without its images:
// entries, rendering it only when the files it depends on changed: the key
// is every blob of the deployments folder but the overlay itself, plus the
// overlay without its images: list, so promotions merged into the base
// (which change only images: entries) keep the render. With
// WithRenderCache the render is also kept on disk for the next process.
func (s *session) baseRender(base plumbing.Hash, file string, content []byte) (*overlay.Base, error) {
	stripped, err := overlay.StripImages(content)
	if err != nil {
		return nil, err
	}
	blobs, err := s.repo.Blobs(base, s.deploymentsDir())
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00%s\x00", file, len(stripped), stripped)
	for _, p := range slices.Sorted(maps.Keys(blobs)) {
		if p != file {
			fmt.Fprintf(h, "%s\x00%s\x00", p, blobs[p])
		}
	}
	key := hex.EncodeToString(h.Sum(nil))
	p := s.p
	p.mu.Lock()
	b, ok := p.bases[key]
	p.mu.Unlock()
	if ok {
		return b.ReadingFrom(func() (filesys.FileSystem, error) { return s.tree(base) }), nil
	}
	abs := "/" + file
	if b = s.loadRender(file, key, base, abs, content); b == nil {
		fsys, err := s.tree(base)
		if err != nil {
			return nil, err
		}
		if b, err = overlay.RenderBase(fsys, path.Dir(abs), abs, content); err != nil {
			return nil, err
		}
		s.storeRender(file, key, b)
	}
	p.mu.Lock()
	if p.bases == nil || len(p.bases) >= 16 {
		p.bases = map[string]*overlay.Base{}
	}
	p.bases[key] = b
	p.mu.Unlock()
	return b, nil
}

// New returns a Promoter for the repository at url (HTTPS, SSH or a local
// path) whose pull requests go through f.
func New(url string, f Forge, opts ...Option) (*Promoter, error) {
	if url == "" || f == nil {
		return nil, fmt.Errorf("%w: a repository URL and a forge are required", ErrInvalidRequest)
	}
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	return &Promoter{url: url, forge: f, o: o}, nil
}

var (
	envRE     = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	serviceRE = envRE
)

func (p *Promoter) validate(req Request) error {
	if !envRE.MatchString(req.Env) {
		return fmt.Errorf("%w: environment %q", ErrInvalidRequest, req.Env)
	}
	if len(p.o.envs) > 0 && !slices.Contains(p.o.envs, req.Env) {
		return fmt.Errorf("%w %q (known: %s)", ErrUnknownEnvironment, req.Env, strings.Join(p.o.envs, ", "))
	}
	if len(req.Images) == 0 {
		return fmt.Errorf("%w: no images", ErrInvalidRequest)
	}
	if req.Batch != "" && !serviceRE.MatchString(req.Batch) {
		return fmt.Errorf("%w: batch %q", ErrInvalidRequest, req.Batch)
	}
	svcs := map[string]bool{}
	for _, im := range req.Images {
		if !serviceRE.MatchString(im.Service) {
			return fmt.Errorf("%w: service %q", ErrInvalidRequest, im.Service)
		}
		svcs[im.Service] = true
		oi := overlay.Image{Name: im.Name, NewName: im.NewName, NewTag: im.Tag, Digest: im.Digest}
		if err := oi.Validate(true); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidRequest, err)
		}
	}
	if len(svcs) > 1 && req.Batch == "" {
		return fmt.Errorf("%w: several services need a Batch name", ErrInvalidRequest)
	}
	return nil
}

func branchFor(prefix string, req Request) string {
	if req.Batch != "" {
		return prefix + "/" + req.Env + "/" + req.Batch
	}
	return prefix + "/" + req.Env + "/" + req.Images[0].Service
}

// Promote pins the requested digests on the target's branch and opens or
// updates its pull request. It retries lost races with bounded backoff.
func (p *Promoter) Promote(ctx context.Context, req Request) (*Result, error) {
	return p.run(ctx, req, job{branch: "promote"})
}

// Plan computes what Promote would do (diff, pull request body, gate
// report) without pushing anything or touching the forge.
func (p *Promoter) Plan(ctx context.Context, req Request) (*Result, error) {
	return p.run(ctx, req, job{branch: "promote", dryRun: true})
}

type job struct {
	branch   string
	dryRun   bool
	rollback string // reverted commit, for a rollback
}

func (p *Promoter) run(ctx context.Context, req Request, j job) (*Result, error) {
	if err := p.validate(req); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(p.o.workDir, "ferry-promote-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	repo, err := gitrepo.Clone(ctx, p.url, filepath.Join(dir, "repo"), p.o.base, p.o.auth)
	if err != nil {
		return nil, err
	}
	s := &session{p: p, repo: repo, req: req, job: j, branch: branchFor(j.branch, req)}
	if !j.dryRun {
		defer p.lock(s.branch)()
	}
	var lastErr error
	for attempt := 1; attempt <= p.o.attempts; attempt++ {
		res, err := s.attempt(ctx)
		if res != nil {
			res.Attempts = attempt
		}
		if err == nil || !Retryable(err) {
			return res, err
		}
		lastErr = err
		p.o.log.InfoContext(ctx, "promotion raced, rebuilding", "branch", s.branch, "attempt", attempt, "reason", err)
		d := min(p.o.backoff<<(attempt-1), p.o.maxBackoff)
		d = d/2 + rand.N(d/2+1)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(d):
		}
	}
	return nil, fmt.Errorf("promoting to %s after %d attempts: %w", req.Env, p.o.attempts, lastErr)
}

type session struct {
	p      *Promoter
	repo   *gitrepo.Repo
	req    Request
	job    job
	branch string
	gates  []GateResult
	gated  bool
	signed map[string]ImageState
}

// render proves with kustomize that every edited name matches an image of
// the base and every digest reaches a workload.
func (s *session) render(base plumbing.Hash, file string, content, edited []byte, edits []overlay.Image) error {
	if s.p.o.noRender {
		return nil
	}
	b, err := s.baseRender(base, file, content)
	if err != nil {
		return fmt.Errorf("rendering %s: %w", file, err)
	}
	if err := overlay.CheckNames(b.Names(), edits); err != nil {
		return fmt.Errorf("checking %s: %w", file, err)
	}
	if err := b.CheckDigests(edited, edits); err != nil {
		return fmt.Errorf("rendering %s: %w", file, err)
	}
	return nil
}

// deploymentsDir is the folder above the overlays root (the whole tree
// when the overlays sit at the top): what kustomize may read.
func (s *session) deploymentsDir() string { return path.Dir(s.p.o.overlays) }

// tree loads the deployments folder of commit base into memory for
// kustomize. The filesystem is kept by the Base rendered from it, so it is
// never written after loading.
func (s *session) tree(base plumbing.Hash) (filesys.FileSystem, error) {
	files, err := s.repo.Files(base, s.deploymentsDir())
	if err != nil {
		return nil, err
	}
	fsys := filesys.MakeFsInMemory()
	for p, b := range files {
		if err := fsys.MkdirAll(path.Dir("/" + p)); err != nil {
			return nil, err
		}
		if err := fsys.WriteFile("/"+p, b); err != nil {
			return nil, err
		}
	}
	return fsys, nil
}

func (s *session) overlayPath() string {
	return path.Join(s.p.o.overlays, s.req.Env, "kustomization.yaml")
}

func (s *session) readOverlay(base plumbing.Hash, env string) ([]byte, error) {
	dir := path.Join(s.p.o.overlays, env)
	ok, err := s.repo.DirExists(base, dir)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w %q: no %s in the deployments repository", ErrUnknownEnvironment, env, dir)
	}
	b, err := s.repo.ReadFile(base, path.Join(dir, "kustomization.yaml"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s/kustomization.yaml", ErrMissingOverlay, dir)
	}
	return b, err
}

func pinned(cur []overlay.Image, im ImageState) bool {
	return slices.ContainsFunc(cur, func(c overlay.Image) bool {
		return c.Name == im.Name && c.Digest == im.Digest && (im.Tag == "" || c.NewTag == im.Tag) && (im.NewName == "" || c.NewName == im.NewName)
	})
}

func (s *session) attempt(ctx context.Context) (*Result, error) {
	res := &Result{Env: s.req.Env, Branch: s.branch, Digests: map[string]string{}}
	base, ok, err := s.repo.Fetch(ctx, s.p.o.base)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: base branch %q does not exist", ErrInvalidRequest, s.p.o.base)
	}
	file := s.overlayPath()
	content, err := s.readOverlay(base, s.req.Env)
	if err != nil {
		return nil, err
	}
	current, err := overlay.Images(content)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", file, err)
	}
	ours := make([]ImageState, 0, len(s.req.Images))
	for _, im := range s.req.Images {
		ours = append(ours, ImageState{Service: im.Service, Name: im.Name, NewName: im.NewName, Tag: im.Tag, Digest: im.Digest,
			Platforms: im.Platforms, SourceRepo: im.SourceRepo, SourceCommit: im.SourceCommit, PreviousCommit: im.PreviousCommit,
			CIRunURL: s.req.CIRunURL, SBOM: im.SBOM, Provenance: im.Provenance})
	}
	// Nothing to do when the base already pins every wanted digest: no
	// gates, no branch, no pull request.
	if !slices.ContainsFunc(ours, func(im ImageState) bool { return !pinned(current, im) }) {
		res.Action = Noop
		for _, im := range ours {
			res.Digests[im.Name] = im.Digest
		}
		return res, nil
	}
	if !s.gated {
		var pins map[string]string
		up := s.p.o.upstream[s.req.Env]
		if up != "" && s.job.rollback == "" {
			upContent, err := s.readOverlay(base, up)
			if err != nil {
				return nil, fmt.Errorf("reading upstream %s: %w", up, err)
			}
			upImages, err := overlay.Images(upContent)
			if err != nil {
				return nil, fmt.Errorf("reading upstream %s: %w", up, err)
			}
			pins = map[string]string{}
			for _, u := range upImages {
				pins[u.Name] = u.Digest
			}
		}
		gates, ok := s.p.runGates(ctx, s.req.Env, ours, up, pins)
		s.gates, s.gated = gates, true
		s.signed = map[string]ImageState{}
		for _, im := range ours {
			s.signed[im.Name] = im
		}
		if !ok {
			res.Gates = gates
			var reasons []string
			for _, g := range gates {
				if !g.Passed {
					reasons = append(reasons, fmt.Sprintf("%s %s: %s", g.Gate, g.Image, g.Reason))
				}
			}
			return res, fmt.Errorf("%w: %s", ErrGateFailed, strings.Join(reasons, "; "))
		}
	}
	res.Gates = s.gates
	for i, im := range ours {
		ours[i] = s.signed[im.Name]
	}

	// The branch: carry what an earlier bot run put there, stop on a person.
	head, exists, err := s.repo.Fetch(ctx, s.branch)
	if err != nil {
		return nil, err
	}
	all := ours
	if exists {
		st, err := s.botState(head)
		if err != nil {
			return nil, err
		}
		for _, im := range st.Images {
			if !slices.ContainsFunc(ours, func(o ImageState) bool { return o.Name == im.Name }) && !pinned(current, im) {
				all = append(all, im)
			}
		}
		slices.SortStableFunc(all, func(a, b ImageState) int { return strings.Compare(a.Name, b.Name) })
	}
	prev := map[string]overlay.Image{}
	for _, c := range current {
		prev[c.Name] = c
	}
	edits := make([]overlay.Image, 0, len(all))
	for i := range all {
		if c, ok := prev[all[i].Name]; ok {
			all[i].OldTag, all[i].OldDigest = c.NewTag, c.Digest
		} else {
			all[i].OldTag, all[i].OldDigest = "", ""
		}
		edits = append(edits, overlay.Image{Name: all[i].Name, NewName: all[i].NewName, NewTag: all[i].Tag, Digest: all[i].Digest})
		res.Digests[all[i].Name] = all[i].Digest
	}
	edited, err := overlay.SetImages(content, edits)
	if err != nil {
		return nil, fmt.Errorf("editing %s: %w", file, err)
	}
	if err := s.render(base, file, content, edited.Content, edits); err != nil {
		return nil, err
	}
	st := State{Env: s.req.Env, Branch: s.branch, Base: base.String(), Images: all, Rollback: s.job.rollback != "", RevertOf: s.job.rollback}
	res.Title = title(st)
	res.Body = body(st, s.p.forge.BodyLimit())
	res.Diff = unifiedDiff(file, content, edited.Content)

	// Unchanged branch: same parent and same file means nothing to push.
	if exists {
		if c, err := s.repo.Commit(head); err == nil && len(c.ParentHashes) == 1 && c.ParentHashes[0] == base {
			if b, err := s.repo.ReadFile(head, file); err == nil && string(b) == string(edited.Content) {
				res.HeadSHA = head.String()
				if s.job.dryRun {
					res.Action = Noop
					return res, nil
				}
				return s.syncPR(ctx, res, head, false, plumbing.ZeroHash)
			}
		}
	}
	if s.job.dryRun {
		res.Action = Created
		if exists {
			res.Action = Updated
		}
		return res, nil
	}
	// Ask the forge first: refused credentials (401, and 403 where reading
	// pull requests is forbidden) or a forge that is down stop the run
	// before a single object reaches the repository.
	if _, err := s.p.forge.FindPullRequest(ctx, s.branch, s.p.o.base); err != nil {
		return nil, fmt.Errorf("checking the pull requests of %s before pushing: %w", s.branch, err)
	}
	msg := res.Title + "\n\n" + commitSummary(st) + "\n" + st.block() + "\n"
	commit, err := s.repo.CommitFiles(base, map[string][]byte{file: edited.Content}, msg, s.p.o.identity, s.p.o.now())
	if err != nil {
		return nil, err
	}
	old := plumbing.ZeroHash
	if exists {
		old = head
	}
	if err := s.repo.Push(ctx, commit, s.branch, old); err != nil {
		return nil, err
	}
	res.HeadSHA = commit.String()
	return s.syncPR(ctx, res, commit, true, old)
}

func commitSummary(st State) string {
	var b strings.Builder
	for _, im := range st.Images {
		fmt.Fprintf(&b, "%s: %s -> %s\n", ref(im), orNone(im.OldDigest), strings.Trim(im.Tag+"@"+im.Digest, "@"))
	}
	return b.String()
}

// botState reads the state of a branch head and refuses a head that the bot
// did not make.
func (s *session) botState(head plumbing.Hash) (State, error) {
	c, err := s.repo.Commit(head)
	if err != nil {
		return State{}, err
	}
	st, ok, err := ParseState(c.Message)
	id := s.p.o.identity
	if err != nil || !ok || c.Author.Email != id.Email || c.Committer.Email != id.Email {
		return State{}, fmt.Errorf("%w: %s has commit %s by %s <%s>; the bot stops here (merge or delete the branch)",
			ErrForeignCommit, s.branch, head.String()[:12], c.Author.Name, c.Author.Email)
	}
	return st, nil
}

// syncPR makes the branch's pull request show the state of the branch head,
// opening it once. Concurrent runs converge: the body is always rendered
// from the head commit, re-read after each write. A forge failure after a
// push is undone (see undo).
func (s *session) syncPR(ctx context.Context, res *Result, head plumbing.Hash, pushed bool, old plumbing.Hash) (*Result, error) {
	f := s.p.forge
	res.Action = Noop
	if pushed {
		res.Action = Updated
	}
	for range 5 {
		pr, err := f.FindPullRequest(ctx, s.branch, s.p.o.base)
		if err == nil && pr == nil {
			pr, err = f.OpenPullRequest(ctx, forge.NewPullRequest{Head: s.branch, Base: s.p.o.base, Title: res.Title, Body: res.Body})
			if err == nil {
				res.Action = Created
			} else if errors.Is(err, forge.ErrAlreadyExists) {
				pr, err = f.FindPullRequest(ctx, s.branch, s.p.o.base)
				if err == nil && pr == nil {
					err = fmt.Errorf("finding the pull request of %s: %w", s.branch, forge.ErrNotFound)
				}
			}
		}
		if err == nil && (pr.Body != res.Body || pr.Title != res.Title) {
			note := superseded(pr.Body, res.Body)
			pr, err = f.UpdatePullRequest(ctx, pr.Number, res.Title, res.Body)
			if c, ok := f.(commenter); ok && err == nil && note != "" {
				if cerr := c.Comment(ctx, pr.Number, note); cerr != nil {
					s.p.o.log.WarnContext(ctx, "commenting on the pull request", "number", pr.Number, "err", cerr)
				}
			}
			if err == nil && res.Action == Noop {
				res.Action = Updated
			}
		}
		if err != nil {
			err = fmt.Errorf("opening the pull request of %s: %w", s.branch, err)
			if pushed {
				err = s.undo(ctx, head, old, err)
			}
			return res, err
		}
		res.PullRequest = pr
		// A newer run may have pushed meanwhile: show its state, not ours.
		now, ok, err := s.repo.RemoteHead(ctx, s.branch)
		if err != nil || !ok || now == head {
			return res, err
		}
		h, _, err := s.repo.Fetch(ctx, s.branch)
		if err != nil {
			return res, err
		}
		st, err := s.botState(h)
		if err != nil {
			return res, err
		}
		head, pushed = h, false
		res.Title, res.Body = title(st), body(st, f.BodyLimit())
	}
	return res, nil
}

// commenter is the optional forge ability to comment on a pull request.
type commenter interface {
	Comment(ctx context.Context, number int, body string) error
}

// superseded describes the digests a newer run replaced in an open pull
// request, for reviewers who saw the older one.
func superseded(oldBody, newBody string) string {
	was, ok1, _ := ParseState(oldBody)
	now, ok2, _ := ParseState(newBody)
	if !ok1 || !ok2 {
		return ""
	}
	var b strings.Builder
	for _, n := range now.Images {
		for _, o := range was.Images {
			if o.Name == n.Name && o.Digest != n.Digest {
				fmt.Fprintf(&b, "- `%s`: `%s` → `%s`\n", ref(n), short(o.Digest), short(n.Digest))
			}
		}
	}
	if b.Len() == 0 {
		return ""
	}
	return "Superseded by a newer promotion:\n\n" + b.String()
}

// undo takes back a push whose pull request could not be opened or
// updated, so no stray branch remains: the branch is deleted (or set back
// to old) under a lease on our own head, even when ctx is done. A failure
// that may have reached the forge (a dropped connection, a 5xx) while
// opening is ambiguous: if the forge now lists a pull request for the new
// branch, the branch stays and the next attempt, finding it unchanged,
// adopts that pull request. If the
// undo itself fails, the error says which branch remains.
func (s *session) undo(ctx context.Context, head, old plumbing.Hash, cause error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if old.IsZero() && Retryable(cause) {
		if pr, err := s.p.forge.FindPullRequest(ctx, s.branch, s.p.o.base); err == nil && pr != nil {
			return cause
		}
	}
	var err error
	if old.IsZero() {
		err = s.repo.Delete(ctx, s.branch, head)
	} else {
		err = s.repo.Push(ctx, old, s.branch, head)
	}
	if err != nil {
		s.p.o.log.WarnContext(ctx, "undoing the push of the promotion branch", "branch", s.branch, "err", err)
		return fmt.Errorf("%w; undoing the push failed, %s remains at %s: %v", cause, s.branch, head.String()[:12], err)
	}
	return cause
}

// Option configures a Promoter.
type Option func(*options) error

type options struct {
	base       string
	overlays   string
	identity   gitrepo.Identity
	auth       gitrepo.Auth
	digests    DigestChecker
	verifier   SignatureVerifier
	noGates    bool
	noRender   bool
	upstream   map[string]string
	envs       []string
	attempts   int
	backoff    time.Duration
	maxBackoff time.Duration
	workDir    string
	log        *slog.Logger
	now        func() time.Time
	renders    *overlay.Cache
}

func makeOptions(opts []Option) (options, error) {
	o := options{
		base:       "main",
		overlays:   "deployments/overlays",
		identity:   gitrepo.Identity{Name: "ferry-bot", Email: "ferry-bot@users.noreply.ferry.invalid"},
		upstream:   map[string]string{"production": "staging"},
		attempts:   8,
		backoff:    100 * time.Millisecond,
		maxBackoff: 3 * time.Second,
		log:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		now:        time.Now,
	}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return o, err
		}
	}
	if !o.noGates && (o.digests == nil || o.verifier == nil) {
		return o, fmt.Errorf("%w: gates need WithDigestChecker and WithSignatureVerifier (or WithoutGatesUnsafe)", ErrInvalidRequest)
	}
	return o, nil
}

// WithBaseBranch sets the branch promotions target. Default "main".
func WithBaseBranch(b string) Option {
	return func(o *options) error {
		if b == "" {
			return fmt.Errorf("%w: empty base branch", ErrInvalidRequest)
		}
		o.base = b
		return nil
	}
}

// WithOverlayRoot sets the folder holding <env>/kustomization.yaml.
// Default "deployments/overlays".
func WithOverlayRoot(dir string) Option {
	return func(o *options) error { o.overlays = strings.Trim(dir, "/"); return nil }
}

// WithIdentity sets the bot's author and committer. Default ferry-bot.
func WithIdentity(id gitrepo.Identity) Option {
	return func(o *options) error {
		if id.Name == "" || id.Email == "" {
			return fmt.Errorf("%w: identity needs a name and an email", ErrInvalidRequest)
		}
		o.identity = id
		return nil
	}
}

// WithAuth sets git credentials. Default none (local paths).
func WithAuth(a gitrepo.Auth) Option { return func(o *options) error { o.auth = a; return nil } }

// WithDigestChecker sets the registry gate. Required unless WithoutGatesUnsafe.
func WithDigestChecker(d DigestChecker) Option {
	return func(o *options) error { o.digests = d; return nil }
}

// WithSignatureVerifier sets the signature gate. Required unless WithoutGatesUnsafe.
func WithSignatureVerifier(v SignatureVerifier) Option {
	return func(o *options) error { o.verifier = v; return nil }
}

// WithoutGatesUnsafe allows promoting without registry or signature checks.
func WithoutGatesUnsafe() Option { return func(o *options) error { o.noGates = true; return nil } }

// WithoutRenderCheckUnsafe skips the kustomize render that proves each
// name matches the base and each digest reaches a workload. Kustomize's
// image transformer costs entries x containers, so a 200-image batch takes
// seconds to render; the edit itself stays byte-exact either way.
func WithoutRenderCheckUnsafe() Option {
	return func(o *options) error { o.noRender = true; return nil }
}

// WithUpstream requires env's digests to be the ones upstream pins.
// Default: production <- staging.
func WithUpstream(env, upstream string) Option {
	return func(o *options) error {
		if env == upstream {
			return fmt.Errorf("%w: %s cannot be its own upstream", ErrInvalidRequest, env)
		}
		o.upstream[env] = upstream
		return nil
	}
}

// WithEnvironments restricts promotion to these environments. Default: any
// environment with an overlay.
func WithEnvironments(envs ...string) Option {
	return func(o *options) error { o.envs = envs; return nil }
}

// WithRetry bounds race retries: attempts in all, exponential backoff from
// base (with jitter) capped at 30 times base. Default 8 attempts from 100ms.
func WithRetry(attempts int, base time.Duration) Option {
	return func(o *options) error {
		if attempts < 1 || base <= 0 {
			return fmt.Errorf("%w: retry needs attempts >= 1 and a positive backoff", ErrInvalidRequest)
		}
		o.attempts, o.backoff, o.maxBackoff = attempts, base, 30*base
		return nil
	}
}

// WithWorkDir sets where clones go. Default os.TempDir().
func WithWorkDir(dir string) Option { return func(o *options) error { o.workDir = dir; return nil } }

// WithLogger sets the progress logger. Default: discard.
func WithLogger(l *slog.Logger) Option { return func(o *options) error { o.log = l; return nil } }

// WithClock sets the commit time source. Default time.Now.
func WithClock(now func() time.Time) Option {
	return func(o *options) error { o.now = now; return nil }
}
