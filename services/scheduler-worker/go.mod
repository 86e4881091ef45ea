module github.com/ferry-ci/ferry/services/scheduler-worker

go 1.26.0
