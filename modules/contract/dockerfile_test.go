package contract

import (
	"reflect"
	"testing"
)

func TestContextSources(t *testing.T) {
	tests := []struct {
		name       string
		dockerfile string
		want       []string
	}{
		{name: "copy and add", dockerfile: "FROM scratch\nCOPY main.go go.mod /src/\nADD assets /assets\n", want: []string{"main.go", "go.mod", "assets"}},
		{name: "lower case and flags", dockerfile: "from scratch\ncopy --chown=1:1 --chmod=644 --link ./cmd/x/ /x\n", want: []string{"cmd/x"}},
		{name: "from stage copies nothing from the context", dockerfile: "FROM golang AS build\nCOPY . /src\nFROM scratch\nCOPY --from=build /out/app /app\n", want: []string{"."}},
		{name: "json form", dockerfile: `COPY ["a b.txt", "/c", "/dst/"]` + "\n", want: []string{"a b.txt", "c"}},
		{name: "continuation and comments", dockerfile: "COPY a \\\n# a comment\n\n  b \\\n  /dst\nCOPY c /d\n", want: []string{"a", "b", "c"}},
		{name: "escape directive", dockerfile: "# escape=`\nFROM scratch\nCOPY a `\n  b c:\\dst\n", want: []string{"a", "b"}},
		{name: "heredoc body is not an instruction", dockerfile: "RUN <<EOF\nCOPY fake /x\nEOF\nCOPY <<-END /etc/conf\n\tADD notreal /y\n\tEND\nCOPY real /z\n", want: []string{"real"}},
		{name: "remote add", dockerfile: "ADD https://example.com/x.tgz git@github.com:a/b.git local.txt /dst\n", want: []string{"local.txt"}},
		{name: "variable means everything", dockerfile: "ARG DIR=src\nCOPY ${DIR} /src\n", want: []string{"."}},
		{name: "bind mounts", dockerfile: "RUN --mount=type=bind,source=go.sum,target=/go.sum --mount=type=cache,target=/root/.cache --mount=type=bind,from=build,source=/x,target=/y go build\nRUN --mount=target=/src make\n", want: []string{"go.sum", "."}},
		{name: "wildcards and absolute", dockerfile: "COPY /etc/*.conf ./*.go /dst/\n", want: []string{"etc/*.conf", "*.go"}},
		{name: "onbuild and run ignored", dockerfile: "ONBUILD COPY x /x\nRUN cp a b\n", want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := contextSources([]byte(tc.dockerfile)); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("contextSources = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSourceMatches(t *testing.T) {
	tests := []struct {
		name, source, rel string
		want              bool
	}{
		{name: "whole context", source: ".", rel: "a/b.go", want: true},
		{name: "same file", source: "main.go", rel: "main.go", want: true},
		{name: "file under folder", source: "cmd", rel: "cmd/x/main.go", want: true},
		{name: "prefix is not a folder", source: "cmd", rel: "cmdline.go", want: false},
		{name: "glob file", source: "*.go", rel: "main.go", want: true},
		{name: "glob does not cross folders", source: "*.go", rel: "pkg/a.go", want: false},
		{name: "glob matches a folder", source: "pkg/*", rel: "pkg/a/b.go", want: true},
		{name: "other file", source: "go.mod", rel: "go.sum", want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := sourceMatches(tc.source, tc.rel); got != tc.want {
				t.Errorf("sourceMatches(%q, %q) = %v, want %v", tc.source, tc.rel, got, tc.want)
			}
		})
	}
}
