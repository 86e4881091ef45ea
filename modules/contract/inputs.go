package contract

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// DockerignoreFile is the file in a build context whose patterns leave files
// out of the context.
const DockerignoreFile = ".dockerignore"

// matcher matches slash paths against .dockerignore-style patterns (Go
// path.Match syntax plus "**", "!" exceptions, and a pattern that matches a
// folder matches everything in it). The same rules serve build.inputs and
// .dockerignore, so the two cannot disagree on what a glob means.
type matcher struct {
	pm *patternmatcher.PatternMatcher
}

func newMatcher(patterns []string) (*matcher, error) {
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, err
	}
	// Patterns compile on first use; match once so a bad one fails here.
	if _, _, err := pm.MatchesUsingParentResults("x", patternmatcher.MatchInfo{}); err != nil {
		return nil, err
	}
	return &matcher{pm: pm}, nil
}

// match reports whether rel (a slash path) or one of its parent folders
// matches, after exceptions.
func (m *matcher) match(rel string) bool {
	if m == nil {
		return false
	}
	// A zero MatchInfo makes the matcher consider every parent folder.
	ok, _, err := m.pm.MatchesUsingParentResults(rel, patternmatcher.MatchInfo{})
	return err == nil && ok
}

// readDockerignore returns the matcher of the .dockerignore in the context
// folder ctx, or nil when there is none.
func readDockerignore(fsys fs.FS, ctx string) (*matcher, error) {
	file := path.Join(ctx, DockerignoreFile)
	data, err := fs.ReadFile(fsys, file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", file, err)
	}
	patterns, err := ignorefile.ReadAll(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", file, err)
	}
	m, err := newMatcher(patterns)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", file, err)
	}
	return m, nil
}

// resolveInputs lists the files under the context folder ctx that inputs
// match and its .dockerignore does not exclude: sorted, repository-relative.
func resolveInputs(fsys fs.FS, ctx string, inputs []string) ([]string, error) {
	include, err := newMatcher(inputs)
	if err != nil {
		return nil, fmt.Errorf("parsing build.inputs: %w", err)
	}
	ignore, err := readDockerignore(fsys, ctx)
	if err != nil {
		return nil, err
	}
	// Without "!" exceptions nothing under an ignored folder can come back,
	// so the walk may skip it whole.
	prune := ignore != nil && !ignore.pm.Exclusions()
	files := []string{}
	err = fs.WalkDir(fsys, ctx, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == ctx {
			return nil
		}
		rel := strings.TrimPrefix(p, ctx+"/")
		if ctx == "." {
			rel = p
		}
		if d.IsDir() {
			if prune && ignore.match(rel) {
				return fs.SkipDir
			}
			return nil
		}
		if ignore.match(rel) || !include.match(rel) {
			return nil
		}
		files = append(files, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing build inputs in %s: %w", ctx, err)
	}
	sort.Strings(files)
	return files, nil
}
