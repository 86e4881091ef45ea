module github.com/ferry-ci/ferry/services/migrator

go 1.26.0
