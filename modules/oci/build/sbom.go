package build

import (
	"bytes"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// SBOMArtifactType is the artifactType of the SBOM pushed beside an image.
const SBOMArtifactType = "application/spdx+json"

// SPDX 2.3 JSON, the subset ferry writes.
type spdxDocument struct {
	SPDXVersion       string             `json:"spdxVersion"`
	DataLicense       string             `json:"dataLicense"`
	SPDXID            string             `json:"SPDXID"`
	Name              string             `json:"name"`
	DocumentNamespace string             `json:"documentNamespace"`
	CreationInfo      spdxCreationInfo   `json:"creationInfo"`
	Packages          []spdxPackage      `json:"packages"`
	Relationships     []spdxRelationship `json:"relationships"`
}

type spdxCreationInfo struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
	Comment  string   `json:"comment,omitempty"`
}

type spdxPackage struct {
	Name             string            `json:"name"`
	SPDXID           string            `json:"SPDXID"`
	VersionInfo      string            `json:"versionInfo,omitempty"`
	DownloadLocation string            `json:"downloadLocation"`
	FilesAnalyzed    bool              `json:"filesAnalyzed"`
	Checksums        []spdxChecksum    `json:"checksums,omitempty"`
	ExternalRefs     []spdxExternalRef `json:"externalRefs,omitempty"`
	Comment          string            `json:"comment,omitempty"`
	PrimaryPurpose   string            `json:"primaryPackagePurpose,omitempty"`
}

type spdxChecksum struct {
	Algorithm string `json:"algorithm"`
	Value     string `json:"checksumValue"`
}

type spdxExternalRef struct {
	Category string `json:"referenceCategory"`
	Type     string `json:"referenceType"`
	Locator  string `json:"referenceLocator"`
}

type spdxRelationship struct {
	Element string `json:"spdxElementId"`
	Type    string `json:"relationshipType"`
	Related string `json:"relatedSpdxElement"`
}

var spdxIDUnsafe = regexp.MustCompile(`[^A-Za-z0-9.-]+`)

// sbom returns an SPDX 2.3 JSON document for a Go binary, read from its
// embedded build information: the main module, every dependency with its
// version and go.sum hash, the Go toolchain. created is the commit time, so
// equal binaries give equal documents.
func sbom(service string, binary []byte, created time.Time) ([]byte, error) {
	bi, err := buildinfo.Read(bytes.NewReader(binary))
	if err != nil {
		return nil, fmt.Errorf("reading build info: %w", err)
	}
	sum := sha256.Sum256(binary)
	mainID := "SPDXRef-Package-" + spdxIDUnsafe.ReplaceAllString(bi.Main.Path, "-")
	doc := spdxDocument{
		SPDXVersion:       "SPDX-2.3",
		DataLicense:       "CC0-1.0",
		SPDXID:            "SPDXRef-DOCUMENT",
		Name:              service,
		DocumentNamespace: "https://ferry-ci.github.io/spdx/" + service + "/sha256-" + hex.EncodeToString(sum[:]),
		CreationInfo: spdxCreationInfo{
			Created:  created.UTC().Format(time.RFC3339),
			Creators: []string{"Tool: ferry"},
			Comment:  "Generated from the Go build information of the service binary (" + bi.GoVersion + ").",
		},
	}
	doc.Packages = append(doc.Packages, spdxPackage{
		Name: bi.Main.Path, SPDXID: mainID, VersionInfo: bi.Main.Version, DownloadLocation: "NOASSERTION",
		Checksums:      []spdxChecksum{{Algorithm: "SHA256", Value: hex.EncodeToString(sum[:])}},
		ExternalRefs:   []spdxExternalRef{purl(bi.Main.Path, bi.Main.Version)},
		Comment:        "checksum: SHA-256 of the linux binary the SBOM was read from",
		PrimaryPurpose: "APPLICATION",
	})
	doc.Relationships = append(doc.Relationships, spdxRelationship{Element: "SPDXRef-DOCUMENT", Type: "DESCRIBES", Related: mainID})
	stdID := "SPDXRef-Package-stdlib"
	doc.Packages = append(doc.Packages, spdxPackage{
		Name: "stdlib", SPDXID: stdID, VersionInfo: bi.GoVersion, DownloadLocation: "https://go.dev/dl/",
		ExternalRefs: []spdxExternalRef{purl("stdlib", bi.GoVersion)},
	})
	doc.Relationships = append(doc.Relationships, spdxRelationship{Element: mainID, Type: "DEPENDS_ON", Related: stdID})
	for _, d := range bi.Deps {
		m := d
		if d.Replace != nil {
			m = d.Replace
		}
		id := "SPDXRef-Package-" + spdxIDUnsafe.ReplaceAllString(m.Path+"-"+m.Version, "-")
		p := spdxPackage{
			Name: m.Path, SPDXID: id, VersionInfo: m.Version, DownloadLocation: "NOASSERTION",
			ExternalRefs: []spdxExternalRef{purl(m.Path, m.Version)},
		}
		if m.Sum != "" {
			p.Comment = "go.sum " + m.Sum
		}
		if d.Replace != nil {
			p.Comment += " (replaces " + d.Path + " " + d.Version + ")"
		}
		doc.Packages = append(doc.Packages, p)
		doc.Relationships = append(doc.Relationships, spdxRelationship{Element: mainID, Type: "DEPENDS_ON", Related: id})
	}
	return json.MarshalIndent(doc, "", "  ")
}

func purl(path, version string) spdxExternalRef {
	loc := "pkg:golang/" + path
	if version != "" && version != "(devel)" {
		loc += "@" + version
	}
	return spdxExternalRef{Category: "PACKAGE-MANAGER", Type: "purl", Locator: loc}
}

// newSBOMArtifact returns an OCI 1.1 artifact manifest as a v1.Image (so
// pushing uploads its blobs): artifactType, the empty config "{}", one SPDX
// layer, and the image index as subject.
func newSBOMArtifact(doc []byte, subject v1.Descriptor) (v1.Image, error) {
	layer := static.NewLayer(doc, types.MediaType(SBOMArtifactType))
	ld, err := layer.Digest()
	if err != nil {
		return nil, err
	}
	cd, _, err := v1.SHA256(bytes.NewReader(emptyJSON))
	if err != nil {
		return nil, err
	}
	subject = v1.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}
	raw, err := json.Marshal(v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        v1.Descriptor{MediaType: types.OCIEmptyJSON, Digest: cd, Size: int64(len(emptyJSON))},
		Layers:        []v1.Descriptor{{MediaType: types.MediaType(SBOMArtifactType), Digest: ld, Size: int64(len(doc))}},
		Subject:       &subject,
		ArtifactType:  SBOMArtifactType,
	})
	if err != nil {
		return nil, err
	}
	return partial.CompressedToImage(&sbomCore{raw: raw, layer: layer, layerDigest: ld})
}

var emptyJSON = []byte("{}")

type sbomCore struct {
	raw         []byte
	layer       v1.Layer
	layerDigest v1.Hash
}

var _ partial.CompressedImageCore = (*sbomCore)(nil)

func (c *sbomCore) RawConfigFile() ([]byte, error)      { return emptyJSON, nil }
func (c *sbomCore) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
func (c *sbomCore) RawManifest() ([]byte, error)        { return c.raw, nil }
func (c *sbomCore) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == c.layerDigest {
		return c.layer, nil
	}
	return nil, fmt.Errorf("sbom artifact has no blob %s", h)
}
