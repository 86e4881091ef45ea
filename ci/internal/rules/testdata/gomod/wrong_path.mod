// want: module path must be "dagger/ci"
module github.com/ferry-ci/ferry/ci

go 1.26.1

require dagger.io/dagger v0.21.9
