package native

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ci/ferry/modules/oci"
	"github.com/ferry-ci/ferry/modules/pipeline"
)

// TestLocalKey: the first use writes a cosign key pair (private key 0600);
// later uses read only the public key until something is signed, and a
// wrong password fails the signing, terminally, naming the variable.
func TestLocalKey(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "keys", "cosign")
	t.Setenv(PasswordEnv, "right")
	if _, err := localKey(prefix); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(prefix + ".key")
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("cosign.key: %v, %v; want mode 0600", fi, err)
	}
	pub, err := os.ReadFile(prefix + ".pub")
	if err != nil {
		t.Fatal(err)
	}

	t.Setenv(PasswordEnv, "s3cr3t-not-this-one")
	k, err := localKey(prefix)
	if err != nil {
		t.Fatalf("opening with a wrong password must not fail before signing: %v", err)
	}
	if again, _ := os.ReadFile(prefix + ".pub"); string(again) != string(pub) {
		t.Fatal("the second use replaced the key pair")
	}
	ref, err := oci.ParsePinned("127.0.0.1:1/x@sha256:" + strings.Repeat("0", 64))
	if err != nil {
		t.Fatal(err)
	}
	_, err = k.Sign(context.Background(), ref)
	if err == nil || !strings.Contains(err.Error(), PasswordEnv) || pipeline.Classify(err) != pipeline.Terminal {
		t.Fatalf("err = %v, want a terminal error naming %s", err, PasswordEnv)
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("the error echoes the password: %v", err)
	}
}
