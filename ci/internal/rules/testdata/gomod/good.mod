module dagger/ci

go 1.26.1

require (
	dagger.io/dagger v0.21.9
	github.com/ferry-ci/ferry/modules/oci v0.0.0
)

replace github.com/ferry-ci/ferry/modules/oci => ../modules/oci
