// want: dagger.io/dagger v0.21.8, want v0.21.9
module dagger/ci

go 1.26.1

require dagger.io/dagger v0.21.8
