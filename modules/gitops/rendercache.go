package gitops

import (
	"errors"
	"fmt"
	"path"

	"github.com/go-git/go-git/v5/plumbing"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/ferry-ci/ferry/modules/gitops/overlay"
)

// renderCacheKeep bounds the renders a render cache keeps per overlay: a
// few base changes in flight (branches, reverts) without growing forever.
const renderCacheKeep = 8

// WithRenderCache keeps the render check's rendered overlay bases in dir
// between processes, so a one-shot run (a CLI invocation) loads an
// overlay's render instead of rendering every base with kustomize again; a
// 200-service overlay costs about a second of CPU to render. Files are
// named by a hash of everything the render reads (every file of the
// deployments folder but the overlay's images: entries, the cache format and
// the kustomize version), hold only the resources that carry container
// images (never a Secret), and are written atomically, mode 0600 in
// folders of mode 0700; the newest 8 renders per overlay are kept. A
// missing, unreadable or corrupt file means a render, never a failure.
// Default: in memory only.
func WithRenderCache(dir string) Option {
	return func(o *options) error {
		c, err := overlay.NewCache(dir, renderCacheKeep)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidRequest, err)
		}
		o.renders = c
		return nil
	}
}

// loadRender returns key's render of the overlay at file from the render
// cache, or nil (no cache, or a miss: the caller renders).
func (s *session) loadRender(file, key string, base plumbing.Hash, abs string, content []byte) *overlay.Base {
	c := s.p.o.renders
	if c == nil {
		return nil
	}
	b, err := c.Load(file, key, func() (filesys.FileSystem, error) { return s.tree(base) }, path.Dir(abs), abs, content)
	switch {
	case err == nil:
		s.p.o.log.Debug("render cache hit", "overlay", file)
		return b
	case errors.Is(err, overlay.ErrCacheMiss) && err.Error() == overlay.ErrCacheMiss.Error():
		s.p.o.log.Debug("render cache miss", "overlay", file)
	default:
		s.p.o.log.Warn("render cache file ignored", "overlay", file, "err", err)
	}
	return nil
}

// storeRender writes a fresh render to the render cache; failing to is
// logged, not fatal: the next run renders again.
func (s *session) storeRender(file, key string, b *overlay.Base) {
	c := s.p.o.renders
	if c == nil {
		return
	}
	switch err := c.Store(file, key, b); {
	case err == nil:
		s.p.o.log.Debug("render cache stored", "overlay", file)
	case overlay.IsUncacheable(err):
		s.p.o.log.Debug("render not cached", "overlay", file, "reason", err)
	default:
		s.p.o.log.Warn("render cache not written", "overlay", file, "err", err)
	}
}
