package build

import (
	"archive/tar"
	"bytes"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// file is one tar entry of a layer we make.
type file struct {
	path    string // absolute in the image, e.g. /etc/passwd
	mode    int64  // permission bits (and sticky)
	dir     bool
	uid     int
	content []byte
}

// reproducibleLayer writes files (and their missing parent directories,
// mode 0755, root-owned) into a gzip tar layer with sorted entries, fixed
// times and no user or group names, so equal input gives an equal digest.
func reproducibleLayer(files []file, mtime time.Time) (v1.Layer, error) {
	byPath := map[string]file{}
	for _, f := range files {
		p := strings.TrimPrefix(path.Clean(f.path), "/")
		f.path = p
		byPath[p] = f
		for d := path.Dir(p); d != "." && d != "/"; d = path.Dir(d) {
			if _, ok := byPath[d]; !ok {
				byPath[d] = file{path: d, mode: 0o755, dir: true}
			}
		}
	}
	paths := make([]string, 0, len(byPath))
	for p := range byPath {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range paths {
		f := byPath[p]
		h := &tar.Header{
			Name:     p,
			Mode:     f.mode,
			Uid:      f.uid,
			Gid:      f.uid,
			ModTime:  mtime,
			Typeflag: tar.TypeReg,
			Size:     int64(len(f.content)),
			Format:   tar.FormatPAX,
		}
		if f.dir {
			h.Name += "/"
			h.Typeflag = tar.TypeDir
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if !f.dir {
			if _, err := tw.Write(f.content); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, tarball.WithMediaType(types.OCILayer))
}
