package manifests

import (
	"errors"
	"path/filepath"
	"runtime"
)

// Option configures Check.
type Option func(*options) error

type options struct {
	crdDir     string
	repoURL    string
	repoPrefix string
	components map[string][]string
	composeEnv map[string]string
}

// DefaultRepoURL is the repository the Argo CD objects name.
const DefaultRepoURL = "https://github.com/ferry-ci/ferry.git"

// sampleDigest is a well-formed digest for the Compose check's sample
// environment.
const sampleDigest = "sha256:0000000000000000000000000000000000000000000000000000000000000000"

func makeOptions(opts []Option) (*options, error) {
	o := &options{
		crdDir:     defaultCRDDir(),
		repoURL:    DefaultRepoURL,
		repoPrefix: "deployments",
		components: map[string][]string{"production": {"components/canary"}},
		composeEnv: map[string]string{
			"SCHEDULER_WORKER_IMAGE": "ghcr.io/ferry-ci/scheduler-worker@" + sampleDigest,
			"MIGRATOR_IMAGE":         "ghcr.io/ferry-ci/migrator@" + sampleDigest,
			"POSTGRES_IMAGE":         "docker.io/library/postgres@" + sampleDigest,
			"TEMPORAL_IMAGE":         "docker.io/temporalio/temporal@" + sampleDigest,
			"POSTGRES_PASSWORD":      "sample",
			"SCHEDULER_API_TOKEN":    "sample",
		},
	}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	if o.crdDir == "" {
		return nil, errors.New("checking manifests: no CRD folder (WithCRDDir)")
	}
	return o, nil
}

// defaultCRDDir is the crds folder of this module's source tree.
func defaultCRDDir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return ""
	}
	return filepath.Join(filepath.Dir(file), "crds")
}

// WithCRDDir reads CRDs from dir. Default: this module's crds folder.
func WithCRDDir(dir string) Option {
	return func(o *options) error {
		if dir == "" {
			return errors.New("WithCRDDir: empty folder")
		}
		o.crdDir = dir
		return nil
	}
}

// WithRepo sets the repository URL Applications must name and the path of
// the checked tree inside it. Default: DefaultRepoURL and "deployments".
func WithRepo(url, prefix string) Option {
	return func(o *options) error {
		if url == "" || prefix == "" {
			return errors.New("WithRepo: url and prefix are required")
		}
		o.repoURL, o.repoPrefix = url, prefix
		return nil
	}
}

// WithComposeEnv sets the variables the Compose file is loaded with.
// Default: well-formed sample digests and placeholder secrets.
func WithComposeEnv(env map[string]string) Option {
	return func(o *options) error {
		o.composeEnv = env
		return nil
	}
}
