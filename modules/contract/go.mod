module github.com/ferry-ci/ferry/modules/contract

go 1.26.0
