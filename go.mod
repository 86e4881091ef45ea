module github.com/ferry-ci/ferry

go 1.26.0
