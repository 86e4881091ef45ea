// want: no requirement on dagger.io/dagger v0.21.9
module dagger/ci

go 1.26.1
