package build

import (
	"maps"
	"slices"

	"github.com/ferry-ci/ferry/modules/oci/dockerfile"
)

// FromDockerfile returns the image configuration a Dockerfile's final stage
// declares (user, entrypoint, cmd, exposed ports, labels, env, workdir), so
// that the daemonless image is configured exactly as the Dockerfile's.
func FromDockerfile(st dockerfile.Stage) ImageConfig {
	return ImageConfig{
		User:         st.User,
		Entrypoint:   slices.Clone(st.Entrypoint),
		Cmd:          slices.Clone(st.Cmd),
		ExposedPorts: slices.Clone(st.ExposedPorts),
		Labels:       maps.Clone(st.Labels),
		Env:          slices.Clone(st.Env),
		WorkingDir:   st.WorkingDir,
	}
}
