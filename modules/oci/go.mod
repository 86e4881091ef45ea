module github.com/ferry-ci/ferry/modules/oci

go 1.26.0
