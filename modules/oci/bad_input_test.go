package oci_test

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/ferry-ci/ferry/modules/oci"
	"github.com/ferry-ci/ferry/modules/oci/dockerfile"
	"github.com/ferry-ci/ferry/modules/oci/embedded"
	"github.com/ferry-ci/ferry/modules/oci/fingerprint"
	"github.com/ferry-ci/ferry/modules/oci/registry"
)

// badCase is one file of testdata/bad: "kind", "input" and "want" (a part
// of the expected error) lines.
type badCase struct {
	name, kind, input, want string
}

func readBadCases(t *testing.T) []badCase {
	t.Helper()
	paths, err := filepath.Glob("testdata/bad/*.txt")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no bad-input corpus: %v", err)
	}
	var cases []badCase
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		c := badCase{name: strings.TrimSuffix(filepath.Base(p), ".txt")}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, _ := strings.Cut(sc.Text(), ": ")
			switch k {
			case "kind":
				c.kind = v
			case "input":
				c.input = v
			case "want":
				c.want = v
			}
		}
		f.Close()
		if c.kind == "" || c.want == "" {
			t.Fatalf("%s: needs kind and want lines", p)
		}
		cases = append(cases, c)
	}
	return cases
}

// TestBadInputCorpus walks testdata/bad: every bad input fails with an
// error that says what is wrong and names the input (or where it is), and
// nothing reaches the registry.
func TestBadInputCorpus(t *testing.T) {
	ctx := context.Background()
	reg, err := embedded.Start(t.TempDir(), embedded.WithBasicAuth("ferry", "right-password"))
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	good := registry.WithCredentials(reg.Host(), "ferry", "right-password")
	fast := registry.WithRetry(registry.Retry{Attempts: 2, Initial: 10 * time.Millisecond, Max: 10 * time.Millisecond})
	newClient := func(opts ...registry.Option) *registry.Client {
		c, err := registry.New(append([]registry.Option{registry.WithKeychain(authn.NewMultiKeychain()), fast}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	repo, _ := oci.ParseRepository(reg.Host() + "/ferry/api")
	img, _ := random.Image(128, 1)

	for _, c := range readBadCases(t) {
		t.Run(c.name, func(t *testing.T) {
			var err error
			mentions := c.input
			switch c.kind {
			case "pinned":
				_, err = oci.ParsePinned(c.input)
			case "tagged":
				_, err = oci.ParseTagged(c.input)
			case "push":
				var r oci.Repository
				if r, err = oci.ParseRepository(c.input); err == nil {
					_, err = newClient().Push(ctx, r, img, "prod-abc1234-api")
				}
			case "push-auth":
				user, pass, _ := strings.Cut(c.input, ":")
				_, err = newClient(registry.WithCredentials(reg.Host(), user, pass)).Push(ctx, repo, img, "prod-abc1234-api")
				mentions = repo.String()
				if err != nil && strings.Contains(err.Error(), pass) {
					t.Errorf("error leaks the password: %v", err)
				}
			case "push-tag":
				_, err = newClient(good).Push(ctx, repo, img, c.input)
			case "dockerfile":
				_, err = dockerfile.Read(filepath.Join(t.TempDir(), c.input))
			case "fingerprint":
				_, err = fingerprint.Compute(fingerprint.Inputs{Root: t.TempDir(), Dockerfile: c.input, GoVersion: "go1.26.8", Platforms: []string{"linux/amd64"}})
			default:
				t.Fatalf("unknown kind %q", c.kind)
			}
			if err == nil {
				t.Fatalf("%s %q: no error", c.kind, c.input)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q\nwant it to contain %q", err, c.want)
			}
			if !strings.Contains(err.Error(), mentions) {
				t.Errorf("error %q\ndoes not name %q", err, mentions)
			}
			if tags, lerr := newClient(good).ListTags(ctx, repo); lerr != nil || len(tags) != 0 {
				t.Errorf("registry has tags %v (%v) after a refused input", tags, lerr)
			}
		})
	}
}
