package gitops

import (
	"fmt"
	"strings"
	"testing"
)

func TestBodyTruncatedKeepsState(t *testing.T) {
	tests := []struct {
		name      string
		images    int
		limit     int
		truncated bool
	}{
		{name: "fits", images: 3, limit: 65536},
		{name: "github limit", images: 400, limit: 65536, truncated: true},
		{name: "compact state fits", images: 120, limit: 65536, truncated: true},
		{name: "no limit", images: 400, limit: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := State{Env: "staging", Branch: "promote/staging/all"}
			for i := range tt.images {
				st.Images = append(st.Images, ImageState{Service: fmt.Sprintf("svc%03d", i), Name: fmt.Sprintf("ghcr.io/acme/svc%03d", i),
					Tag: "t", Digest: fmt.Sprintf("sha256:%064x", i), OldDigest: fmt.Sprintf("sha256:%064x", i+1), Signer: "id — ünïcode"})
			}
			b := body(st, tt.limit)
			if tt.limit > 0 && len(b) > tt.limit {
				t.Fatalf("body is %d bytes, limit %d", len(b), tt.limit)
			}
			if got := strings.Contains(b, "truncated to the forge's limit"); got != tt.truncated {
				t.Fatalf("truncated = %v, want %v", got, tt.truncated)
			}
			back, ok, err := ParseState(b)
			if err != nil || !ok || back.Truncated != tt.truncated || (!tt.truncated && len(back.Images) != tt.images) {
				t.Fatalf("state after truncation: %d images, %v %v", len(back.Images), ok, err)
			}
			if !strings.Contains(b, "<!-- ferry-promotion:v1 ") || strings.Count(b[:strings.LastIndex(b, "<!--")], "-->") != 0 {
				t.Fatal("state block malformed")
			}
		})
	}
}

func TestStateBlockCannotCloseEarly(t *testing.T) {
	st := State{Env: "staging", Images: []ImageState{{Service: "api", Name: "x", Digest: "d", Signer: "evil --> <script>"}}}
	b := body(st, 0)
	back, ok, err := ParseState(b)
	if err != nil || !ok || back.Images[0].Signer != "evil --> <script>" {
		t.Fatalf("round trip: %+v %v %v", back, ok, err)
	}
	if strings.Count(b[strings.LastIndex(b, "<!-- ferry"):], "-->") != 1 {
		t.Fatal("the state block closes early")
	}
}
