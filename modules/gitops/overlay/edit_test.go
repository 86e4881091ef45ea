package overlay

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden expected.yaml files")

type request struct {
	Images       []Image `json:"images"`
	AllowTagOnly bool    `json:"allowTagOnly"`
}

// TestSetImagesGolden walks testdata/set/<case>/: input.yaml and
// request.json, then either expected.yaml (the edited file, byte for byte) or
// error.txt (the exact error).
func TestSetImagesGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/set/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			input := read(t, filepath.Join(dir, "input.yaml"))
			var req request
			if err := json.Unmarshal(read(t, filepath.Join(dir, "request.json")), &req); err != nil {
				t.Fatal(err)
			}
			var opts []Option
			if req.AllowTagOnly {
				opts = append(opts, AllowTagOnlyUnsafe())
			}
			res, err := SetImages(input, req.Images, opts...)
			if wantErr, e := os.ReadFile(filepath.Join(dir, "error.txt")); e == nil {
				if err == nil {
					t.Fatalf("SetImages succeeded, want error %q", strings.TrimSpace(string(wantErr)))
				}
				if got, want := err.Error(), strings.TrimSpace(string(wantErr)); got != want {
					t.Fatalf("error:\n got %q\nwant %q", got, want)
				}
				return
			}
			if err != nil {
				t.Fatalf("SetImages: %v", err)
			}
			golden := filepath.Join(dir, "expected.yaml")
			if *update {
				if err := os.WriteFile(golden, res.Content, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if want := read(t, golden); !bytes.Equal(res.Content, want) {
				t.Fatalf("content differs from %s:\n%s", golden, res.Content)
			}
			assertOnlyValuesChanged(t, input, res)
			got, err := Images(res.Content)
			if err != nil {
				t.Fatalf("re-reading the edited file: %v", err)
			}
			for _, img := range req.Images {
				if !hasImage(got, img) {
					t.Errorf("edited file lacks %+v; has %+v", img, got)
				}
			}
		})
	}
}

func hasImage(got []Image, want Image) bool {
	for _, g := range got {
		if g.Name == want.Name && (want.Digest == "" || g.Digest == want.Digest) &&
			(want.NewTag == "" || g.NewTag == want.NewTag) && (want.NewName == "" || g.NewName == want.NewName) {
			return true
		}
	}
	return false
}

// assertOnlyValuesChanged proves that every input line survives: an input
// line is either in the output unchanged (in order) or is a line whose value
// was replaced, keeping the key, spacing and trailing comment; every other
// output line is an inserted key or entry.
func assertOnlyValuesChanged(t *testing.T, input []byte, res *Result) {
	t.Helper()
	in := strings.SplitAfter(string(input), "\n")
	out := strings.SplitAfter(string(res.Content), "\n")
	replaced := map[string]string{}
	inserted := 0
	for _, c := range res.Changes {
		if c.Inserted {
			inserted++
		} else {
			replaced[c.Old] = c.New
		}
	}
	j := 0
	for _, line := range in {
		for j < len(out) && !sameLine(out[j], line) && !isReplacement(strings.TrimSuffix(line, "\n"), strings.TrimSuffix(out[j], "\n"), replaced) {
			if !strings.Contains(out[j], ": ") && strings.TrimSpace(out[j]) != "images:" {
				t.Fatalf("output line %d %q is neither an input line nor an inserted key", j+1, out[j])
			}
			j++
		}
		if j == len(out) {
			t.Fatalf("input line %q lost", line)
		}
		j++
	}
	if extra := len(out) - len(in); extra > inserted+1 { // +1: a new `images:` line
		t.Fatalf("%d lines added for %d inserted values", extra, inserted)
	}
}

// sameLine compares lines, letting the input's last line gain a newline.
func sameLine(out, in string) bool {
	return out == in || out == in+"\n" || out == in+"\r\n"
}

func isReplacement(old, cur string, replaced map[string]string) bool {
	for o, n := range replaced {
		for _, q := range []string{"", `"`, "'"} {
			if strings.Contains(old, q+o+q) && strings.Replace(old, q+o+q, "", 1) == strings.Replace(cur, n, "", 1) {
				return true
			}
			if strings.Contains(old, q+o+q) && strings.Contains(cur, `"`+n+`"`) &&
				strings.Replace(old, q+o+q, "", 1) == strings.Replace(cur, `"`+n+`"`, "", 1) {
				return true
			}
		}
	}
	return false
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// BenchmarkSetImages200 pins 200 services of a 200-entry overlay.
func BenchmarkSetImages200(b *testing.B) {
	var src strings.Builder
	src.WriteString("kind: Kustomization\nimages:\n")
	ims := make([]Image, 200)
	for i := range 200 {
		fmt.Fprintf(&src, "  # svc%03d\n  - name: ghcr.io/acme/svc%03d\n    newTag: old\n    digest: sha256:%064x\n", i, i, i)
		ims[i] = Image{Name: fmt.Sprintf("ghcr.io/acme/svc%03d", i), NewTag: "new", Digest: fmt.Sprintf("sha256:%064x", i+1)}
	}
	in := []byte(src.String())
	for b.Loop() {
		if _, err := SetImages(in, ims); err != nil {
			b.Fatal(err)
		}
	}
}
