package gitops

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/ferry-ci/ferry/modules/gitops/gitrepo"
	"github.com/ferry-ci/ferry/modules/gitops/overlay"
)

// Rollback opens the revert of the promotion commit that pinned service's
// current digest in env: a pull request on rollback/<env>/<service> that
// restores the entry values that commit replaced. It refuses when a person
// changed the pin after the bot (a manual revert is never overridden) and
// when the promotion added the entry (nothing earlier to restore).
func (p *Promoter) Rollback(ctx context.Context, env, service string) (*Result, error) {
	if !envRE.MatchString(env) || !serviceRE.MatchString(service) {
		return nil, fmt.Errorf("%w: environment %q, service %q", ErrInvalidRequest, env, service)
	}
	dir, err := os.MkdirTemp(p.o.workDir, "ferry-rollback-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	repo, err := gitrepo.Clone(ctx, p.url, filepath.Join(dir, "repo"), p.o.base, p.o.auth)
	if err != nil {
		return nil, err
	}
	base, _, err := repo.Fetch(ctx, p.o.base)
	if err != nil {
		return nil, err
	}
	file := path.Join(p.o.overlays, env, "kustomization.yaml")
	if _, err := (&session{p: p, repo: repo}).readOverlay(base, env); err != nil {
		return nil, err
	}
	promo, images, err := p.findPromotion(repo, base, file, env, service)
	if err != nil {
		return nil, err
	}
	parent, err := repo.Commit(promo.ParentHashes[0])
	if err != nil {
		return nil, err
	}
	before, err := repo.ReadFile(parent.Hash, file)
	if err != nil {
		return nil, fmt.Errorf("reading %s before %s: %w", file, promo.Hash.String()[:12], err)
	}
	old, err := overlay.Images(before)
	if err != nil {
		return nil, fmt.Errorf("reading %s before %s: %w", file, promo.Hash.String()[:12], err)
	}
	req := Request{Env: env}
	for _, im := range images {
		i := indexByName(old, im.Name)
		if i < 0 || old[i].Digest == "" {
			return nil, fmt.Errorf("%w: %s had no pin for %s before %s", ErrNothingToRollBack, env, im.Name, promo.Hash.String()[:12])
		}
		req.Images = append(req.Images, Image{Service: service, Name: im.Name, NewName: old[i].NewName, Tag: old[i].NewTag, Digest: old[i].Digest})
	}
	return p.run(ctx, req, job{branch: "rollback", rollback: promo.Hash.String()})
}

func indexByName(ims []overlay.Image, name string) int {
	for i, im := range ims {
		if im.Name == name {
			return i
		}
	}
	return -1
}

// findPromotion walks the base history for the newest commit that changed
// service's pins in env; it must be a bot promotion whose pins are still in
// place, else a person has the last word.
func (p *Promoter) findPromotion(repo *gitrepo.Repo, base plumbing.Hash, file, env, service string) (*object.Commit, []ImageState, error) {
	var found *object.Commit
	var images []ImageState
	err := repo.Log(base, func(c *object.Commit) (bool, error) {
		st, ok, _ := ParseState(c.Message)
		if ok && c.Committer.Email == p.o.identity.Email && st.Env == env {
			var mine []ImageState
			for _, im := range st.Images {
				if im.Service == service {
					mine = append(mine, im)
				}
			}
			if len(mine) > 0 {
				found, images = c, mine
				return false, nil
			}
			return true, nil
		}
		return len(c.ParentHashes) > 0, nil
	})
	if err != nil {
		return nil, nil, err
	}
	if found == nil {
		return nil, nil, fmt.Errorf("%w: no promotion of %s in %s on %s", ErrNothingToRollBack, service, env, p.o.base)
	}
	cur, err := repo.ReadFile(base, file)
	if err != nil {
		return nil, nil, err
	}
	now, err := overlay.Images(cur)
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", file, err)
	}
	for _, im := range images {
		i := indexByName(now, im.Name)
		if i < 0 || now[i].Digest != im.Digest {
			who, when := p.lastChange(repo, base, file, im.Name)
			return nil, nil, fmt.Errorf("%w: %s pins %s, not %s from promotion %s (changed by %s); not overriding it",
				ErrManualChange, im.Name, pinOf(now, i), im.Digest, found.Hash.String()[:12], who+when)
		}
	}
	return found, images, nil
}

func pinOf(ims []overlay.Image, i int) string {
	if i < 0 {
		return "nothing"
	}
	return ims[i].Digest
}

// lastChange names the newest commit that changed name's pin.
func (p *Promoter) lastChange(repo *gitrepo.Repo, base plumbing.Hash, file, name string) (string, string) {
	who, when := "unknown", ""
	_ = repo.Log(base, func(c *object.Commit) (bool, error) {
		if len(c.ParentHashes) == 0 {
			return false, nil
		}
		if len(c.ParentHashes) > 1 {
			// A merge changes the pin only through what it brought in,
			// which the walk visits next: name that commit's author.
			return true, nil
		}
		a, _ := repo.ReadFile(c.Hash, file)
		b, _ := repo.ReadFile(c.ParentHashes[0], file)
		ia, _ := overlay.Images(a)
		ib, _ := overlay.Images(b)
		x, y := indexByName(ia, name), indexByName(ib, name)
		if pinOf(ia, x) != pinOf(ib, y) {
			who = fmt.Sprintf("%s <%s>", c.Author.Name, c.Author.Email)
			when = " in " + c.Hash.String()[:12]
			return false, nil
		}
		return true, nil
	})
	return who, when
}
