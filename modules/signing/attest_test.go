package signing

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

func testProvenance() Provenance {
	return Provenance{
		BuilderID:        "https://github.com/ferry-ci/ferry/.github/workflows/release.yml@refs/heads/main",
		BuildType:        "https://github.com/ferry-ci/ferry/buildtypes/release/v1",
		SourceRepository: "https://github.com/ferry-ci/ferry",
		Commit:           strings.Repeat("ab", 20),
		Ref:              "refs/heads/main",
		Service:          "scheduler-worker",
		Materials:        []Material{{URI: "pkg:golang/golang.org/x/sync@v0.24.0", Digest: map[string]string{"sha256": strings.Repeat("0", 64)}}},
		StartedOn:        time.Unix(1700000000, 0),
	}
}

func TestAttestVerify(t *testing.T) {
	pred, err := testProvenance().Predicate()
	if err != nil {
		t.Fatal(err)
	}
	sbom := []byte(`{"spdxVersion":"SPDX-2.3","name":"scheduler-worker"}`)
	for _, f := range []Format{FormatLegacy, FormatBundle} {
		for _, referrers := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/referrers=%v", f, referrers), func(t *testing.T) {
				host := newRegistry(t, referrers)
				d := pushRandom(t, host, "app")
				k := newKey(t)
				s := newKeySigner(t, k)
				if _, err := Attest(ctx, d, s, PredicateTypeSLSAProvenance1, pred, WithFormat(f)); err != nil {
					t.Fatal(err)
				}
				if _, err := Attest(ctx, d, s, PredicateTypeSPDX, sbom, WithFormat(f)); err != nil {
					t.Fatal(err)
				}
				atts, err := VerifyAttestations(ctx, d, keyPolicy(t, k), PredicateTypeSLSAProvenance1)
				if err != nil {
					t.Fatal(err)
				}
				if len(atts) != 1 || atts[0].Format != f {
					t.Fatalf("got %d attestations: %+v", len(atts), atts)
				}
				var st struct {
					PredicateType string `json:"predicateType"`
					Predicate     struct {
						RunDetails struct {
							Builder struct{ ID string } `json:"builder"`
						} `json:"runDetails"`
					} `json:"predicate"`
				}
				if err := json.Unmarshal(atts[0].Statement, &st); err != nil {
					t.Fatal(err)
				}
				if st.PredicateType != PredicateTypeSLSAProvenance1 || st.Predicate.RunDetails.Builder.ID != testProvenance().BuilderID {
					t.Fatalf("statement %s", atts[0].Statement)
				}
				if _, err := VerifyAttestations(ctx, d, keyPolicy(t, k), PredicateTypeSPDX); err != nil {
					t.Fatal(err)
				}
				// Another key fails, naming the check.
				_, err = VerifyAttestations(ctx, d, keyPolicy(t, newKey(t)), PredicateTypeSPDX)
				assertChecks(t, err, CheckSignature)
			})
		}
	}
}

func TestProvenanceInvalid(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Provenance)
		want string
	}{
		{"no builder", func(p *Provenance) { p.BuilderID = "" }, "no builder id"},
		{"no build type", func(p *Provenance) { p.BuildType = "" }, "no build type"},
		{"no source", func(p *Provenance) { p.SourceRepository = "" }, "no source repository"},
		{"short commit", func(p *Provenance) { p.Commit = "abc" }, "not a full hex object id"},
		{"material without uri", func(p *Provenance) { p.Materials = []Material{{}} }, "material 0 has no uri"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := testProvenance()
			tc.edit(&p)
			_, err := p.Predicate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
