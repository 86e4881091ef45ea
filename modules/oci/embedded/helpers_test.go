package embedded_test

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func mustPlatform(t *testing.T, img v1.Image) v1.Platform {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return v1.Platform{OS: cf.OS, Architecture: cf.Architecture}
}
