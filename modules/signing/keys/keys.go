// Package keys reads and writes the ECDSA P-256 key pairs cosign uses:
// an encrypted private key (PEM "ENCRYPTED SIGSTORE PRIVATE KEY", the format
// `cosign generate-key-pair` writes) and a PKIX public key. Passwords come
// from an environment variable or a file, never from a command-line value.
package keys

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// PEM block types of cosign private keys. cosign v2+ writes the first and
// still reads the second.
const (
	SigstorePrivateKeyPEMType = "ENCRYPTED SIGSTORE PRIVATE KEY"
	CosignPrivateKeyPEMType   = "ENCRYPTED COSIGN PRIVATE KEY"
)

// ErrWrongPassword reports a password that does not decrypt the key. It is
// terminal: retrying with the same password cannot succeed.
var ErrWrongPassword = errors.New("wrong password or corrupt key")

// ErrNotECDSAP256 reports a key of another algorithm than ECDSA P-256.
var ErrNotECDSAP256 = errors.New("key is not ECDSA P-256")

// Password supplies the password of an encrypted private key.
type Password func() ([]byte, error)

// PasswordFromEnv reads the password from the environment variable name.
// An unset variable is an error; a set but empty one is the empty password
// (cosign's COSIGN_PASSWORD="" convention).
func PasswordFromEnv(name string) Password {
	return func() ([]byte, error) {
		v, ok := os.LookupEnv(name)
		if !ok {
			return nil, fmt.Errorf("reading password from environment variable %q: not set", name)
		}
		return []byte(v), nil
	}
}

// PasswordFromFile reads the password from the file at path; one trailing
// newline is dropped so that `echo secret > file` works.
func PasswordFromFile(path string) Password {
	return func() ([]byte, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading password file %q: %w", path, err)
		}
		b = bytes.TrimSuffix(b, []byte("\n"))
		b = bytes.TrimSuffix(b, []byte("\r"))
		return b, nil
	}
}

// Pair is a generated key pair in cosign's file formats.
type Pair struct {
	// PrivatePEM is the encrypted private key (cosign.key).
	PrivatePEM []byte
	// PublicPEM is the PKIX public key (cosign.pub).
	PublicPEM []byte
}

// Generate creates an ECDSA P-256 key pair and encrypts the private key with
// the password, exactly as `cosign generate-key-pair` does.
func Generate(password Password) (*Pair, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating key: %w", err)
	}
	return Marshal(priv, password)
}

// Marshal encodes priv in cosign's file formats.
func Marshal(priv *ecdsa.PrivateKey, password Password) (*Pair, error) {
	pw, err := password()
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("encoding private key: %w", err)
	}
	enc, err := encrypted.Encrypt(der, pw)
	if err != nil {
		return nil, fmt.Errorf("encrypting private key: %w", err)
	}
	pub, err := cryptoutils.MarshalPublicKeyToPEM(priv.Public())
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	return &Pair{
		PrivatePEM: pem.EncodeToMemory(&pem.Block{Type: SigstorePrivateKeyPEMType, Bytes: enc}),
		PublicPEM:  pub,
	}, nil
}

// WriteFiles writes the pair as <prefix>.key (mode 0600) and <prefix>.pub,
// refusing to overwrite an existing key.
func (p *Pair) WriteFiles(prefix string) error {
	keyPath, pubPath := prefix+".key", prefix+".pub"
	f, err := os.OpenFile(keyPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("creating %q: %w", keyPath, err)
	}
	if _, err := f.Write(p.PrivatePEM); err != nil {
		f.Close()
		return fmt.Errorf("writing %q: %w", keyPath, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %q: %w", keyPath, err)
	}
	if err := os.WriteFile(pubPath, p.PublicPEM, 0o644); err != nil {
		return fmt.Errorf("writing %q: %w", pubPath, err)
	}
	return nil
}

// ParsePrivate decrypts a cosign private key. Unencrypted PKCS#8 and SEC 1
// ("EC PRIVATE KEY") PEM keys are accepted as well and ignore password.
func ParsePrivate(pemBytes []byte, password Password) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("decoding private key: no PEM block")
	}
	var der []byte
	switch block.Type {
	case SigstorePrivateKeyPEMType, CosignPrivateKeyPEMType:
		pw, err := password()
		if err != nil {
			return nil, err
		}
		der, err = encrypted.Decrypt(block.Bytes, pw)
		if err != nil {
			// encrypted.Decrypt says "decryption failed" for a wrong password
			// and other texts for malformed input; both are terminal.
			return nil, fmt.Errorf("decrypting private key: %w", ErrWrongPassword)
		}
	case "PRIVATE KEY", "EC PRIVATE KEY":
		der = block.Bytes
	default:
		return nil, fmt.Errorf("decoding private key: unsupported PEM type %q", block.Type)
	}
	var key crypto.PrivateKey
	var err error
	if block.Type == "EC PRIVATE KEY" {
		key, err = x509.ParseECPrivateKey(der)
	} else {
		key, err = x509.ParsePKCS8PrivateKey(der)
	}
	if err != nil {
		return nil, fmt.Errorf("parsing private key: %w", err)
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("parsing private key: %w", ErrNotECDSAP256)
	}
	return ec, nil
}

// LoadPrivate reads and decrypts the private key file at path.
func LoadPrivate(path string, password Password) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading private key %q: %w", path, err)
	}
	k, err := ParsePrivate(b, password)
	if err != nil {
		return nil, fmt.Errorf("loading private key %q: %w", path, err)
	}
	return k, nil
}

// ParsePublic parses a PEM PKIX public key (cosign.pub) and requires ECDSA
// P-256.
func ParsePublic(pemBytes []byte) (*ecdsa.PublicKey, error) {
	if !strings.Contains(string(pemBytes), "-----BEGIN") {
		return nil, errors.New("parsing public key: no PEM block")
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("parsing public key: %w", err)
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("parsing public key: %w", ErrNotECDSAP256)
	}
	return ec, nil
}

// LoadPublic reads the public key file at path.
func LoadPublic(path string) (*ecdsa.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading public key %q: %w", path, err)
	}
	k, err := ParsePublic(b)
	if err != nil {
		return nil, fmt.Errorf("loading public key %q: %w", path, err)
	}
	return k, nil
}
