package localimage_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ci/ferry/modules/manifests/internal/localimage"
)

func TestFinalStage(t *testing.T) {
	for _, svc := range []string{"scheduler-worker", "migrator"} {
		t.Run(svc, func(t *testing.T) {
			got, err := localimage.FinalStage(filepath.Join("..", "..", "..", "..", "services", svc, "Dockerfile"))
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"ARG BASE_IMAGE=", "FROM ${BASE_IMAGE}", "COPY out/" + svc + " /usr/local/bin/" + svc, "USER 65532:65532", "ENTRYPOINT"} {
				if !strings.Contains(got, want) {
					t.Errorf("final stage lacks %q:\n%s", want, got)
				}
			}
			if strings.Contains(got, "go build") || strings.Contains(got, "--from=") {
				t.Errorf("final stage keeps the build stage:\n%s", got)
			}
		})
	}
	bad := filepath.Join(t.TempDir(), "Dockerfile")
	if err := os.WriteFile(bad, []byte("FROM scratch\nCOPY app /app\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := localimage.FinalStage(bad); err == nil || !strings.Contains(err.Error(), "copies nothing from /out/") {
		t.Fatalf("a Dockerfile without a build stage: %v", err)
	}
}
