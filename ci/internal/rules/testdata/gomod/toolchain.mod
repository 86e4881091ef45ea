// want: toolchain go1.26.8: the engine builds with its own Go
module dagger/ci

go 1.26.1

toolchain go1.26.8

require dagger.io/dagger v0.21.9
