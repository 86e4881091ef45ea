module github.com/ferry-ci/ferry/modules/signing

go 1.26.0
