package native

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferry-ci/ferry/modules/oci"
	"github.com/ferry-ci/ferry/modules/pipeline"
	"github.com/ferry-ci/ferry/modules/signing"
	"github.com/ferry-ci/ferry/modules/signing/keys"
)

// PasswordEnv names the environment variable holding the password of the
// local signing key. Unset means the empty password (cosign's
// COSIGN_PASSWORD="" convention): the key file is then protected by its
// 0600 mode only, which is the embedded default for a laptop.
const PasswordEnv = "FERRY_SIGNING_PASSWORD"

// KeyPrefix is the path prefix of the local key pair under the state
// folder: keys/cosign.key and keys/cosign.pub, cosign's file formats.
const KeyPrefix = "keys/cosign"

func password() keys.Password {
	if _, ok := os.LookupEnv(PasswordEnv); ok {
		return keys.PasswordFromEnv(PasswordEnv)
	}
	return func() ([]byte, error) { return nil, nil }
}

// localKey returns the signing of the key pair under prefix, generating it
// on first use. The private key is decrypted only when something is signed
// (cosign's scrypt costs about a second), so a run that only verifies,
// such as a noop release, never pays for it.
func localKey(prefix string) (*KeySigning, error) {
	keyPath := prefix + ".key"
	var fresh *ecdsa.PrivateKey
	if _, err := os.Stat(keyPath); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(prefix), 0o700); err != nil {
			return nil, fmt.Errorf("creating the key folder: %w", err)
		}
		pair, err := keys.Generate(password())
		if err != nil {
			return nil, fmt.Errorf("generating the local signing key: %w", err)
		}
		if err := pair.WriteFiles(prefix); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("writing the local signing key: %w", err)
		}
		if err == nil {
			fresh, _ = keys.ParsePrivate(pair.PrivatePEM, password())
		}
	}
	pub, err := keys.LoadPublic(prefix + ".pub")
	if err != nil {
		return nil, pipeline.MarkTerminal(fmt.Errorf("loading the local public key: %w", err))
	}
	return NewKeySigning(pub, func() (*ecdsa.PrivateKey, error) {
		if fresh != nil {
			return fresh, nil
		}
		priv, err := keys.LoadPrivate(keyPath, password())
		if err != nil {
			return nil, pipeline.MarkTerminal(fmt.Errorf("loading %s (password from %s): %w", keyPath, PasswordEnv, err))
		}
		return priv, nil
	})
}

// givenKey returns the signing that verifies with the public key at
// pubPath (--public-key) instead of the local key's public half. It
// generates nothing: signing loads the private key under prefix, which
// must exist and match.
func givenKey(pubPath, prefix string) (*KeySigning, error) {
	pub, err := keys.LoadPublic(pubPath)
	if err != nil {
		return nil, pipeline.MarkTerminal(fmt.Errorf("loading --public-key: %w; give a cosign public key (PEM)", err))
	}
	keyPath := prefix + ".key"
	k, err := NewKeySigning(pub, func() (*ecdsa.PrivateKey, error) {
		if _, err := os.Stat(keyPath); errors.Is(err, os.ErrNotExist) {
			return nil, pipeline.MarkTerminal(fmt.Errorf("loading the signing key: %s does not exist; --public-key %s only verifies, so sign where its private key is", keyPath, pubPath))
		}
		priv, err := keys.LoadPrivate(keyPath, password())
		if err != nil {
			return nil, pipeline.MarkTerminal(fmt.Errorf("loading %s (password from %s): %w", keyPath, PasswordEnv, err))
		}
		return priv, nil
	})
	if err != nil {
		return nil, err
	}
	k.source = "--public-key " + pubPath
	return k, nil
}

// KeySigning signs and verifies with one ECDSA key, in cosign's legacy
// format (the .sig tag every cosign and admission controller reads).
type KeySigning struct {
	pub    *ecdsa.PublicKey
	policy *signing.Policy
	load   func() (*ecdsa.PrivateKey, error)
	// remote carries the registry's credentials and transport.
	remote []remote.Option
	// source names where the public key came from, for a failed
	// verification; empty for the local key.
	source string

	once   sync.Once
	signer *signing.KeySigner
	err    error
}

var (
	_ pipeline.Signer   = (*KeySigning)(nil)
	_ pipeline.Verifier = (*KeySigning)(nil)
)

// NewKeySigning verifies with pub and signs with the private key that load
// returns, called once, on the first Sign.
func NewKeySigning(pub *ecdsa.PublicKey, load func() (*ecdsa.PrivateKey, error)) (*KeySigning, error) {
	p, err := signing.KeyPolicy(pub)
	if err != nil {
		return nil, err
	}
	return &KeySigning{pub: pub, policy: p, load: load}, nil
}

// Sign signs ref.
func (k *KeySigning) Sign(ctx context.Context, ref oci.Pinned) (pipeline.Signature, error) {
	k.once.Do(func() {
		priv, err := k.load()
		if err != nil {
			k.err = err
			return
		}
		if !priv.PublicKey.Equal(k.pub) {
			k.err = pipeline.MarkTerminal(errors.New("loading the signing key: the private key does not match the public key"))
			return
		}
		k.signer, k.err = signing.NewKeySigner(priv)
	})
	if k.err != nil {
		return pipeline.Signature{}, k.err
	}
	return signWith(ctx, ref, k.signer, signing.WithRemoteOptions(k.remote...))
}

// Verify checks ref's signatures against the key.
func (k *KeySigning) Verify(ctx context.Context, ref oci.Pinned) (pipeline.Verification, error) {
	v, err := verifyWith(ctx, ref, k.policy, k.remote)
	if err != nil && k.source != "" {
		return v, fmt.Errorf("%w (checked with the key of %s)", err, k.source)
	}
	return v, err
}

func signWith(ctx context.Context, ref oci.Pinned, signer signing.Signer, opts ...signing.SignOption) (pipeline.Signature, error) {
	res, err := signing.Sign(ctx, ref.Name(), signer, opts...)
	if err != nil {
		return pipeline.Signature{}, signClass(fmt.Errorf("signing %s: %w", ref, err))
	}
	sig := pipeline.Signature{Format: string(res.Format)}
	switch {
	case res.Tag != nil:
		sig.Ref = res.Tag.String()
	case res.Referrer != nil:
		sig.Ref = res.Referrer.String()
	}
	return sig, nil
}

func verifyWith(ctx context.Context, ref oci.Pinned, policy *signing.Policy, ropts []remote.Option) (pipeline.Verification, error) {
	rep, err := signing.Verify(ctx, ref.Name(), policy, signing.WithVerifyRemoteOptions(ropts...))
	if err != nil {
		return pipeline.Verification{}, signClass(fmt.Errorf("verifying %s: %w", ref, err))
	}
	v := pipeline.Verification{Ref: ref}
	for _, s := range rep.Signatures {
		v.Signers = append(v.Signers, s.Signer())
	}
	return v, nil
}

func signClass(err error) error {
	if signing.IsRetryable(err) {
		return pipeline.MarkRetryable(err)
	}
	return pipeline.MarkTerminal(err)
}
