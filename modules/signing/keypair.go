package signing

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// ecdsaKeypair adapts a durable ECDSA P-256 key to sigstore-go's signing
// interface (sigstore-go only ships an ephemeral one).
type ecdsaKeypair struct {
	priv *ecdsa.PrivateKey
	hint []byte
}

var _ sign.Keypair = (*ecdsaKeypair)(nil)

func newECDSAKeypair(priv *ecdsa.PrivateKey) (*ecdsaKeypair, error) {
	if priv == nil {
		return nil, fmt.Errorf("loading signing key: no key")
	}
	if priv.Curve != elliptic.P256() {
		return nil, fmt.Errorf("loading signing key: curve %s is not P-256", priv.Curve.Params().Name)
	}
	hint, err := keyHint(&priv.PublicKey)
	if err != nil {
		return nil, err
	}
	return &ecdsaKeypair{priv: priv, hint: []byte(hint)}, nil
}

// keyHint is the key identifier sigstore bundles carry: base64 of the SHA-256
// of the DER public key.
func keyHint(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("encoding public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return base64.StdEncoding.EncodeToString(sum[:]), nil
}

func (k *ecdsaKeypair) GetHashAlgorithm() protocommon.HashAlgorithm {
	return protocommon.HashAlgorithm_SHA2_256
}

func (k *ecdsaKeypair) GetSigningAlgorithm() protocommon.PublicKeyDetails {
	return protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256
}

func (k *ecdsaKeypair) GetHint() []byte { return k.hint }

func (k *ecdsaKeypair) GetKeyAlgorithm() string { return "ECDSA" }

func (k *ecdsaKeypair) GetPublicKey() crypto.PublicKey { return k.priv.Public() }

func (k *ecdsaKeypair) GetPublicKeyPem() (string, error) {
	b, err := cryptoutils.MarshalPublicKeyToPEM(k.priv.Public())
	if err != nil {
		return "", fmt.Errorf("encoding public key: %w", err)
	}
	return string(b), nil
}

// SignData hashes data with SHA-256 and signs the digest (ASN.1 ECDSA, as
// cosign does); it returns the signature and the digest.
func (k *ecdsaKeypair) SignData(_ context.Context, data []byte) ([]byte, []byte, error) {
	sum := sha256.Sum256(data)
	sig, err := ecdsa.SignASN1(rand.Reader, k.priv, sum[:])
	if err != nil {
		return nil, nil, fmt.Errorf("signing: %w", err)
	}
	return sig, sum[:], nil
}
