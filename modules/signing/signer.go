package signing

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"time"

	"github.com/sigstore/sigstore-go/pkg/sign"
)

// Signer provides the key (and, for keyless signing, the certificate) of one
// signing operation. Build one with NewKeySigner or NewKeylessSigner.
type Signer interface {
	material(ctx context.Context) (*material, error)
}

// material is what one Sign call signs with.
type material struct {
	keypair  sign.Keypair
	certs    sign.CertificateProvider
	certOpts *sign.CertificateProviderOptions
}

// KeySigner signs with a durable ECDSA P-256 key (a cosign.key).
type KeySigner struct {
	kp *ecdsaKeypair
}

var _ Signer = (*KeySigner)(nil)

// NewKeySigner returns a signer over priv, which must be ECDSA P-256.
func NewKeySigner(priv *ecdsa.PrivateKey) (*KeySigner, error) {
	kp, err := newECDSAKeypair(priv)
	if err != nil {
		return nil, err
	}
	return &KeySigner{kp: kp}, nil
}

// KeyID returns the key's identifier (base64 SHA-256 of the DER public key).
func (s *KeySigner) KeyID() string { return string(s.kp.hint) }

func (s *KeySigner) material(context.Context) (*material, error) {
	return &material{keypair: s.kp}, nil
}

// TokenSource supplies an OIDC identity token for Fulcio (see package oidc).
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// KeylessSigner signs with an ephemeral key certified by Fulcio for the
// identity in an OIDC token.
type KeylessSigner struct {
	tokens TokenSource
	fulcio sign.CertificateProvider
}

var _ Signer = (*KeylessSigner)(nil)

type keylessOptions struct {
	timeout time.Duration
	retries uint
}

// KeylessOption configures NewKeylessSigner.
type KeylessOption func(*keylessOptions) error

// WithFulcioTimeout bounds each Fulcio request (default 30s).
func WithFulcioTimeout(d time.Duration) KeylessOption {
	return func(o *keylessOptions) error {
		if d <= 0 {
			return fmt.Errorf("setting Fulcio timeout: %s is not positive", d)
		}
		o.timeout = d
		return nil
	}
}

// WithFulcioRetries sets how often a failed Fulcio request is retried
// (default 2).
func WithFulcioRetries(n uint) KeylessOption {
	return func(o *keylessOptions) error {
		o.retries = n
		return nil
	}
}

// NewKeylessSigner returns a signer that exchanges a token from tokens for a
// code-signing certificate at the Fulcio instance fulcioURL (for the public
// instance: https://fulcio.sigstore.dev).
func NewKeylessSigner(tokens TokenSource, fulcioURL string, opts ...KeylessOption) (*KeylessSigner, error) {
	if tokens == nil {
		return nil, errors.New("creating keyless signer: no token source")
	}
	if fulcioURL == "" {
		return nil, errors.New("creating keyless signer: no Fulcio URL")
	}
	o := keylessOptions{timeout: 30 * time.Second, retries: 2}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	f := sign.NewFulcio(&sign.FulcioOptions{BaseURL: fulcioURL, Timeout: o.timeout, Retries: o.retries})
	return &KeylessSigner{tokens: tokens, fulcio: f}, nil
}

func (s *KeylessSigner) material(ctx context.Context) (*material, error) {
	tok, err := s.tokens.Token(ctx)
	if err != nil {
		return nil, fmt.Errorf("getting identity token: %w", err)
	}
	kp, err := sign.NewEphemeralKeypair(nil)
	if err != nil {
		return nil, fmt.Errorf("generating ephemeral key: %w", err)
	}
	return &material{
		keypair:  kp,
		certs:    s.fulcio,
		certOpts: &sign.CertificateProviderOptions{IDToken: tok},
	}, nil
}
