module github.com/ferry-ci/ferry/modules/gitops

go 1.26.0
