package dockerfilecheck_test

import (
	"bufio"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ferry-ci/ferry/services/scheduler-worker/internal/dockerfilecheck"
)

// TestServiceDockerfiles checks the real Dockerfile of every service.
func TestServiceDockerfiles(t *testing.T) {
	for _, path := range []string{"../../Dockerfile", "../../../migrator/Dockerfile"} {
		t.Run(filepath.Base(filepath.Dir(filepath.Clean(path)))+"-"+filepath.Base(path), func(t *testing.T) {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for _, err := range dockerfilecheck.Check(f) {
				t.Errorf("%s: %v", path, err)
			}
		})
	}
}

// TestBadDockerfiles walks testdata/bad: each file breaks rules and lists
// the errors it must give in "# want: " lines at its top.
func TestBadDockerfiles(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.Dockerfile")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".Dockerfile"), func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			sc := bufio.NewScanner(strings.NewReader(string(src)))
			for sc.Scan() {
				if w, ok := strings.CutPrefix(sc.Text(), "# want: "); ok {
					want = append(want, w)
				}
			}
			if len(want) == 0 {
				t.Fatal("no # want: line")
			}
			var got []string
			for _, err := range dockerfilecheck.Check(strings.NewReader(string(src))) {
				got = append(got, err.Error())
			}
			sort.Strings(want)
			sort.Strings(got)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("errors:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
		})
	}
}
