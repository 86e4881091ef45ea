module github.com/ferry-ci/ferry/modules/contract

go 1.26.0

require (
	github.com/moby/patternmatcher v0.6.1
	golang.org/x/mod v0.39.0
	gopkg.in/yaml.v3 v3.0.1
)

require (
	github.com/kr/pretty v0.3.1 // indirect
	github.com/rogpeppe/go-internal v1.14.1 // indirect
	gopkg.in/check.v1 v1.0.0-20201130134442-10cb98267c6c // indirect
)
