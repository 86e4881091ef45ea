package signing

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
)

// Media types and annotation keys of cosign's legacy storage (cosign
// pkg/oci/static, pkg/types).
const (
	simpleSigningMediaType types.MediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
	dsseMediaType          types.MediaType = "application/vnd.dsse.envelope.v1+json"
	inTotoPayloadType                      = "application/vnd.in-toto+json"

	annSignature     = "dev.cosignproject.cosign/signature"
	annCertificate   = "dev.sigstore.cosign/certificate"
	annChain         = "dev.sigstore.cosign/chain"
	annBundle        = "dev.sigstore.cosign/bundle"
	annPredicateType = "predicateType"
)

// rekorBundle is the `dev.sigstore.cosign/bundle` annotation: a Rekor v1
// signed entry timestamp over the entry, for offline log verification.
type rekorBundle struct {
	SignedEntryTimestamp []byte       `json:"SignedEntryTimestamp"`
	Payload              rekorPayload `json:"Payload"`
}

type rekorPayload struct {
	Body           string `json:"body"`
	IntegratedTime int64  `json:"integratedTime"`
	LogIndex       int64  `json:"logIndex"`
	LogID          string `json:"logID"`
}

// sigLayer is one signature (or attestation) layer with its annotations.
type sigLayer struct {
	layer       v1.Layer
	annotations map[string]string
}

// legacyLayer converts a signed sigstore bundle into cosign's layer form:
// the payload as the layer, signature, certificate, chain and log entry as
// annotations. For DSSE envelopes (attestations) the layer is the envelope
// and the signature annotation is empty, as cosign writes it.
func legacyLayer(layerBytes []byte, b *protobundle.Bundle, mt types.MediaType) (*sigLayer, error) {
	ann := map[string]string{}
	if ms := b.GetMessageSignature(); ms != nil {
		ann[annSignature] = base64.StdEncoding.EncodeToString(ms.GetSignature())
	} else {
		ann[annSignature] = ""
	}
	vm := b.GetVerificationMaterial()
	var certs [][]byte
	if c := vm.GetCertificate(); c != nil {
		certs = [][]byte{c.GetRawBytes()}
	} else if ch := vm.GetX509CertificateChain(); ch != nil {
		for _, c := range ch.GetCertificates() {
			certs = append(certs, c.GetRawBytes())
		}
	}
	if len(certs) > 0 {
		ann[annCertificate] = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certs[0]}))
		var chain []byte
		for _, c := range certs[1:] {
			chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c})...)
		}
		if len(chain) > 0 {
			ann[annChain] = string(chain)
		}
	}
	if es := vm.GetTlogEntries(); len(es) > 0 {
		e := es[0]
		if e.GetInclusionPromise() == nil {
			return nil, errors.New("converting log entry: no signed entry timestamp (Rekor v1 is required for the legacy format)")
		}
		rb := rekorBundle{
			SignedEntryTimestamp: e.GetInclusionPromise().GetSignedEntryTimestamp(),
			Payload: rekorPayload{
				Body:           base64.StdEncoding.EncodeToString(e.GetCanonicalizedBody()),
				IntegratedTime: e.GetIntegratedTime(),
				LogIndex:       e.GetLogIndex(),
				LogID:          hex.EncodeToString(e.GetLogId().GetKeyId()),
			},
		}
		j, err := json.Marshal(rb)
		if err != nil {
			return nil, fmt.Errorf("encoding log entry: %w", err)
		}
		ann[annBundle] = string(j)
	}
	return &sigLayer{layer: static.NewLayer(layerBytes, mt), annotations: ann}, nil
}

// tagLocks serialises the read-modify-write of one signature tag within this
// process; registries offer no conditional manifest writes, so writers in
// other processes are caught by the read-back after each write instead.
// Entries are reference-counted so that the map does not grow with every
// digest a long-lived process signs.
var tagLocks = struct {
	sync.Mutex
	m map[string]*tagLock
}{m: map[string]*tagLock{}}

type tagLock struct {
	sync.Mutex
	users int
}

func lockTag(tag name.Tag) func() {
	key := tag.String()
	tagLocks.Lock()
	l := tagLocks.m[key]
	if l == nil {
		l = &tagLock{}
		tagLocks.m[key] = l
	}
	l.users++
	tagLocks.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		tagLocks.Lock()
		if l.users--; l.users == 0 {
			delete(tagLocks.m, key)
		}
		tagLocks.Unlock()
	}
}

// emptySignatures is the image cosign starts a signature tag from.
func emptySignatures() v1.Image {
	return mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
}

// readTagImage returns the image at tag, or nil when the tag does not exist.
func readTagImage(tag name.Tag, ropts []remote.Option) (v1.Image, error) {
	img, err := remote.Image(tag, ropts...)
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, classifyRemote(fmt.Errorf("reading %q: %w", tag.String(), err), err)
	}
	return img, nil
}

func isNotFound(err error) bool {
	var te *transport.Error
	if errors.As(err, &te) {
		if te.StatusCode == 404 {
			return true
		}
		for _, d := range te.Errors {
			if d.Code == transport.ManifestUnknownErrorCode || d.Code == transport.NameUnknownErrorCode {
				return true
			}
		}
	}
	return false
}

// hasLayer reports whether img holds a layer with the same digest and
// annotations as l.
func hasLayer(img v1.Image, l *sigLayer) (bool, error) {
	if img == nil {
		return false, nil
	}
	m, err := img.Manifest()
	if err != nil {
		return false, err
	}
	d, err := l.layer.Digest()
	if err != nil {
		return false, err
	}
	for _, desc := range m.Layers {
		if desc.Digest == d && desc.Annotations[annSignature] == l.annotations[annSignature] &&
			desc.Annotations[annCertificate] == l.annotations[annCertificate] {
			return true, nil
		}
	}
	return false, nil
}

// appendLayer adds l to the manifest at tag: read, append, write, read back;
// a write lost to a concurrent writer is retried with jittered backoff.
func appendLayer(ctx context.Context, tag name.Tag, l *sigLayer, o *signOptions) error {
	unlock := lockTag(tag)
	defer unlock()
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		base, err := readTagImage(tag, o.remote)
		if err != nil {
			return err
		}
		if ok, err := hasLayer(base, l); err != nil {
			return fmt.Errorf("reading %q: %w", tag.String(), err)
		} else if !ok {
			if base == nil {
				base = emptySignatures()
			}
			img, err := mutate.Append(base, mutate.Addendum{Layer: l.layer, Annotations: l.annotations})
			if err != nil {
				return fmt.Errorf("appending to %q: %w", tag.String(), err)
			}
			o.events(Event{Step: "writing", Ref: tag.String(), Detail: fmt.Sprintf("attempt %d", attempt)})
			if err := remote.Write(tag, img, o.remote...); err != nil {
				return classifyRemote(fmt.Errorf("writing %q: %w", tag.String(), err), err)
			}
		}
		// Read back: another process may have replaced the tag between our
		// read and our write.
		after, err := readTagImage(tag, o.remote)
		if err != nil {
			return err
		}
		if ok, err := hasLayer(after, l); err != nil {
			return fmt.Errorf("reading back %q: %w", tag.String(), err)
		} else if ok {
			return nil
		}
		if attempt >= o.attempts {
			return &RetryableError{Err: fmt.Errorf("writing %q: signature lost to concurrent writers after %d attempts", tag.String(), attempt)}
		}
		o.events(Event{Step: "retrying", Ref: tag.String(), Detail: "signature lost to a concurrent writer"})
		sleep := backoff + time.Duration(rand.Int64N(int64(backoff)))
		select {
		case <-ctx.Done():
			return fmt.Errorf("writing %q: %w", tag.String(), ctx.Err())
		case <-time.After(sleep):
		}
		backoff *= 2
	}
}

// legacyEntry is one layer read from a signature or attestation tag.
type legacyEntry struct {
	payload     []byte
	annotations map[string]string
	mediaType   types.MediaType
}

// readLegacy returns the layers at tag (none when the tag is absent).
func readLegacy(tag name.Tag, ropts []remote.Option) ([]legacyEntry, error) {
	img, err := readTagImage(tag, ropts)
	if err != nil || img == nil {
		return nil, err
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, classifyRemote(fmt.Errorf("reading %q: %w", tag.String(), err), err)
	}
	if len(m.Layers) > maxSignatures {
		return nil, fmt.Errorf("reading %q: %d layers exceed the limit of %d", tag.String(), len(m.Layers), maxSignatures)
	}
	var out []legacyEntry
	for _, desc := range m.Layers {
		if desc.Size > maxPayloadBytes {
			return nil, fmt.Errorf("reading %q: layer %s of %d bytes exceeds the limit", tag.String(), desc.Digest, desc.Size)
		}
		l, err := img.LayerByDigest(desc.Digest)
		if err != nil {
			return nil, fmt.Errorf("reading %q layer %s: %w", tag.String(), desc.Digest, err)
		}
		rc, err := l.Compressed()
		if err != nil {
			return nil, classifyRemote(fmt.Errorf("reading %q layer %s: %w", tag.String(), desc.Digest, err), err)
		}
		b, err := io.ReadAll(io.LimitReader(rc, maxPayloadBytes+1))
		rc.Close()
		if err != nil {
			return nil, classifyRemote(fmt.Errorf("reading %q layer %s: %w", tag.String(), desc.Digest, err), err)
		}
		out = append(out, legacyEntry{payload: b, annotations: desc.Annotations, mediaType: desc.MediaType})
	}
	return out, nil
}

// Limits on what a verifier reads from a registry it does not trust.
const (
	maxSignatures   = 1000
	maxPayloadBytes = 8 << 20
)
