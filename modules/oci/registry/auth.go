package registry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/docker/cli/cli/config"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// GitHubRegistry is the host that GITHUB_TOKEN authenticates against.
const GitHubRegistry = "ghcr.io"

// DefaultKeychain resolves credentials, in order, from: GITHUB_TOKEN for
// ghcr.io; the Docker config file at $DOCKER_CONFIG/config.json or
// ~/.docker/config.json (auths, credsStore, credHelpers); else anonymous. The
// environment is read once, now.
func DefaultKeychain() authn.Keychain {
	var chain []authn.Keychain
	if tok := os.Getenv("GITHUB_TOKEN"); tok != "" {
		chain = append(chain, GitHubTokenKeychain(tok))
	}
	dir := os.Getenv("DOCKER_CONFIG")
	if dir == "" {
		if home, err := os.UserHomeDir(); err == nil {
			dir = filepath.Join(home, ".docker")
		}
	}
	if dir != "" {
		chain = append(chain, DockerConfigKeychain(filepath.Join(dir, "config.json")))
	}
	return authn.NewMultiKeychain(chain...)
}

// GitHubTokenKeychain authenticates to ghcr.io with a GitHub token (the
// Actions GITHUB_TOKEN or a personal access token) and to nothing else.
func GitHubTokenKeychain(token string) authn.Keychain {
	return &staticKeychain{registry: GitHubRegistry, auth: &authn.Basic{Username: "x-access-token", Password: token}}
}

// StaticKeychain answers with fixed credentials for one registry host.
func StaticKeychain(registry, username, password string) (authn.Keychain, error) {
	if registry == "" || username == "" || password == "" {
		return nil, errors.New("credentials need a registry, a username and a password")
	}
	if _, err := name.NewRegistry(registry, name.StrictValidation); err != nil {
		return nil, fmt.Errorf("parsing registry %q: %w", registry, err)
	}
	return &staticKeychain{registry: registry, auth: &authn.Basic{Username: username, Password: password}}, nil
}

type staticKeychain struct {
	registry string
	auth     authn.Authenticator
}

var _ authn.Keychain = (*staticKeychain)(nil)

// Resolve implements authn.Keychain.
func (k *staticKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if r.RegistryStr() == k.registry {
		return k.auth, nil
	}
	return authn.Anonymous, nil
}

// DockerConfigKeychain reads credentials from one Docker config file (the
// "auths" entries, "credsStore" and "credHelpers"). A missing file means
// anonymous; a malformed one is an error naming it. The file is read on
// each resolution so that a `docker login` in between is seen.
func DockerConfigKeychain(path string) authn.Keychain {
	return &dockerConfigKeychain{path: path}
}

type dockerConfigKeychain struct{ path string }

var _ authn.ContextKeychain = (*dockerConfigKeychain)(nil)

// Resolve implements authn.Keychain.
func (k *dockerConfigKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	return k.ResolveContext(context.Background(), r)
}

// ResolveContext implements authn.ContextKeychain.
func (k *dockerConfigKeychain) ResolveContext(_ context.Context, r authn.Resource) (authn.Authenticator, error) {
	f, err := os.Open(k.path)
	if errors.Is(err, os.ErrNotExist) {
		return authn.Anonymous, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading docker config %q: %w", k.path, err)
	}
	defer f.Close()
	cf, err := config.LoadFromReader(f)
	if err != nil {
		return nil, fmt.Errorf("parsing docker config %q: %w", k.path, err)
	}
	cf.Filename = k.path
	for _, key := range []string{r.String(), r.RegistryStr()} {
		if key == name.DefaultRegistry {
			key = authn.DefaultAuthKey
		}
		cfg, err := cf.GetAuthConfig(key)
		if err != nil {
			return nil, fmt.Errorf("reading credentials for %q from docker config %q: %w", key, k.path, err)
		}
		// The config's ServerAddress is set even without credentials.
		cfg.ServerAddress = ""
		if cfg.Username == "" && cfg.Password == "" && cfg.Auth == "" && cfg.IdentityToken == "" && cfg.RegistryToken == "" {
			continue
		}
		return authn.FromConfig(authn.AuthConfig{
			Username:      cfg.Username,
			Password:      cfg.Password,
			Auth:          cfg.Auth,
			IdentityToken: cfg.IdentityToken,
			RegistryToken: cfg.RegistryToken,
		}), nil
	}
	return authn.Anonymous, nil
}
