package signing_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"strings"

	"github.com/ferry-ci/ferry/modules/signing"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Sign an image digest with a key in cosign's legacy format, then verify
// it with the public key, offline.
func Example() {
	ctx := context.Background()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	img, _ := random.Image(128, 1)
	h, _ := img.Digest()
	repo := strings.TrimPrefix(srv.URL, "http://") + "/app"
	tag, _ := name.NewTag(repo + ":build")
	if err := remote.Write(tag, img); err != nil {
		log.Fatal(err)
	}

	digest, err := signing.ParseDigest(repo + "@" + h.String())
	if err != nil {
		log.Fatal(err)
	}
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader) // or keys.LoadPrivate("cosign.key", ...)
	signer, err := signing.NewKeySigner(priv)
	if err != nil {
		log.Fatal(err)
	}
	res, err := signing.Sign(ctx, digest, signer)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("signature tag:", strings.TrimPrefix(res.Tag.TagStr(), h.Algorithm+"-"+h.Hex) == ".sig")

	policy, err := signing.KeyPolicy(&priv.PublicKey)
	if err != nil {
		log.Fatal(err)
	}
	report, err := signing.Verify(ctx, digest, policy)
	if err != nil {
		log.Fatal(err)
	}
	s := report.Signatures[0]
	fmt.Println(len(report.Signatures), s.Format, s.Signer() == "key "+signer.KeyID())

	_, err = signing.ParseDigest(repo + ":latest")
	fmt.Println(err != nil)
	// Output:
	// signature tag: true
	// 1 legacy true
	// true
}
