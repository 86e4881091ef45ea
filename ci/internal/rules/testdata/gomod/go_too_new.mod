// want: go 1.26.8 is newer than the engine supports (at most 1.26.1)
module dagger/ci

go 1.26.8

require dagger.io/dagger v0.21.9
