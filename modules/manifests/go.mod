module github.com/ferry-ci/ferry/modules/manifests

go 1.26.0
