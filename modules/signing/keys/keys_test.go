package keys

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGenerateParse(t *testing.T) {
	pw := func() ([]byte, error) { return []byte("s3cret"), nil }
	p, err := Generate(pw)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(p.PrivatePEM), "BEGIN "+SigstorePrivateKeyPEMType) {
		t.Fatalf("private key PEM type: %s", p.PrivatePEM[:40])
	}
	priv, err := ParsePrivate(p.PrivatePEM, pw)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublic(p.PublicPEM)
	if err != nil {
		t.Fatal(err)
	}
	if !priv.PublicKey.Equal(pub) {
		t.Fatal("public key does not match private key")
	}
	_, err = ParsePrivate(p.PrivatePEM, func() ([]byte, error) { return []byte("wrong"), nil })
	if !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("wrong password: err = %v, want ErrWrongPassword", err)
	}
	if strings.Contains(err.Error(), "wrong\"") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("error leaks the password: %v", err)
	}
}

func TestWriteLoadFiles(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := Generate(PasswordFromFile(pwFile))
	if err != nil {
		t.Fatal(err)
	}
	prefix := filepath.Join(dir, "cosign")
	if err := p.WriteFiles(prefix); err != nil {
		t.Fatal(err)
	}
	if err := p.WriteFiles(prefix); err == nil {
		t.Fatal("second WriteFiles overwrote the key")
	}
	fi, err := os.Stat(prefix + ".key")
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key mode %v, want 0600", fi.Mode().Perm())
	}
	t.Setenv("FERRY_TEST_KEY_PASSWORD", "from-file")
	if _, err := LoadPrivate(prefix+".key", PasswordFromEnv("FERRY_TEST_KEY_PASSWORD")); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadPublic(prefix + ".pub"); err != nil {
		t.Fatal(err)
	}
}

func TestBadInputs(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		run     func() error
		wantErr string
	}{
		{"unset env", func() error { _, err := PasswordFromEnv("FERRY_TEST_UNSET_VARIABLE")(); return err }, `environment variable "FERRY_TEST_UNSET_VARIABLE": not set`},
		{"missing password file", func() error { _, err := PasswordFromFile(filepath.Join(dir, "nope"))(); return err }, "reading password file"},
		{"missing key", func() error { _, err := LoadPrivate(filepath.Join(dir, "nope.key"), PasswordFromEnv("X")); return err }, "reading private key"},
		{"not PEM", func() error { _, err := ParsePrivate([]byte("hello"), PasswordFromEnv("X")); return err }, "no PEM block"},
		{"public not PEM", func() error { _, err := ParsePublic([]byte("hello")); return err }, "no PEM block"},
		{"wrong PEM type", func() error {
			_, err := ParsePrivate([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), PasswordFromEnv("X"))
			return err
		}, `unsupported PEM type "CERTIFICATE"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}
