// want: services/migrator is not in dagger.json's include
module dagger/ci

go 1.26.1

require dagger.io/dagger v0.21.9

replace github.com/ferry-ci/ferry/services/migrator => ../services/migrator
