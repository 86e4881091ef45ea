package signing

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ferry-ci/ferry/modules/signing/keys"
	"github.com/ferry-ci/ferry/modules/signing/oidc"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// badInput is one case of testdata/badinput: what the caller gives and the
// error text it must get back.
type badInput struct {
	Ref   string `json:"ref"`   // default: the pushed image's digest
	Key   string `json:"key"`   // "", "missing", "wrong-password", "unset-password"
	Token string `json:"token"` // when set, sign keylessly with this token
	Want  string `json:"want"`
}

// TestBadInputCorpus walks testdata/badinput: each case must fail with its
// error text, and no signature may be written to the registry.
func TestBadInputCorpus(t *testing.T) {
	files, err := filepath.Glob("testdata/badinput/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	dir := t.TempDir()
	t.Setenv("FERRY_TEST_KEY_PASSWORD", "right")
	pair, err := keys.Generate(keys.PasswordFromEnv("FERRY_TEST_KEY_PASSWORD"))
	if err != nil {
		t.Fatal(err)
	}
	if err := pair.WriteFiles(filepath.Join(dir, "cosign")); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var in badInput
			if err := json.Unmarshal(raw, &in); err != nil {
				t.Fatal(err)
			}
			host := newRegistry(t, false)
			d := pushRandom(t, host, "app")
			ref := d.String()
			if in.Ref != "" {
				ref = strings.NewReplacer("{{registry}}", host, "{{digest}}", d.DigestStr()).Replace(in.Ref)
			}
			err = signFromInputs(t, ref, in, dir)
			if err == nil || !strings.Contains(err.Error(), in.Want) {
				t.Fatalf("err = %v, want it to contain %q", err, in.Want)
			}
			if strings.Contains(err.Error(), "right") {
				t.Fatalf("error leaks the password: %v", err)
			}
			tags, err := remote.List(d.Context())
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(tags, []string{"build"}) {
				t.Fatalf("registry tags after a failed sign: %v, want only [build]", tags)
			}
		})
	}
}

// signFromInputs does what a front door does: parse, load the key, sign.
func signFromInputs(t *testing.T, ref string, in badInput, dir string) error {
	d, err := ParseDigest(ref)
	if err != nil {
		return err
	}
	var s Signer
	if in.Token != "" {
		s, err = NewKeylessSigner(oidc.Static(in.Token), "http://127.0.0.1:1")
		if err != nil {
			return err
		}
		_, err = Sign(ctx, d, s, WithTransparencyLog(NewRekor("http://127.0.0.1:1", 0)))
		return err
	}
	keyPath := filepath.Join(dir, "cosign.key")
	pw := keys.PasswordFromEnv("FERRY_TEST_KEY_PASSWORD")
	switch in.Key {
	case "missing":
		keyPath = filepath.Join(dir, "nope.key")
	case "wrong-password":
		t.Setenv("FERRY_TEST_WRONG_PASSWORD", "wrong")
		pw = keys.PasswordFromEnv("FERRY_TEST_WRONG_PASSWORD")
	case "unset-password":
		pw = keys.PasswordFromEnv("FERRY_TEST_UNSET_PASSWORD")
	}
	priv, err := keys.LoadPrivate(keyPath, pw)
	if err != nil {
		return err
	}
	ks, err := NewKeySigner(priv)
	if err != nil {
		return err
	}
	_, err = Sign(ctx, d, ks)
	return err
}
