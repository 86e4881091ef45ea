module github.com/ferry-ci/ferry/modules/pipeline

go 1.26.0
