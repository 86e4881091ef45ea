package contract_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/ferry-ci/ferry/modules/contract"
)

func ExampleAffected() {
	dir, _ := os.MkdirTemp("", "affected")
	defer os.RemoveAll(dir)
	repo, _ := git.PlainInit(dir, false)
	wt, _ := repo.Worktree()
	commit := func(files map[string]string) string {
		for p, c := range files {
			_ = os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
			_ = os.WriteFile(filepath.Join(dir, p), []byte(c), 0o644)
		}
		_ = wt.AddWithOptions(&git.AddOptions{All: true})
		h, _ := wt.Commit("change", &git.CommitOptions{Author: &object.Signature{Name: "Example", Email: "example@ferry.invalid", When: time.Unix(0, 0)}})
		return h.String()
	}
	service := func(name string) map[string]string {
		return map[string]string{
			"services/" + name + "/service.yaml": "schemaVersion: 1\nname: " + name + "\nkind: server\ndescription: " + name + ".\n" +
				"health:\n  port: 8080\ndeploy:\n  manifest: deployments/base/" + name + "\n",
			"services/" + name + "/Dockerfile":                 "FROM scratch\nCOPY . /\n",
			"services/" + name + "/go.mod":                     "module example.com/" + name + "\n\ngo 1.26.0\n\nrequire example.com/common v0.0.0\n\nreplace example.com/common => ../../common\n",
			"deployments/base/" + name + "/kustomization.yaml": "resources: []\n",
		}
	}
	files := map[string]string{"common/go.mod": "module example.com/common\n\ngo 1.26.0\n", "common/common.go": "package common\n"}
	for _, name := range []string{"api", "web"} {
		for p, c := range service(name) {
			files[p] = c
		}
	}
	base := commit(files)
	head := commit(map[string]string{"common/common.go": "package common // v2\n", ".github/workflows/ci.yml": "on: push\n"})

	imp, err := contract.Affected(context.Background(), dir, base, head, contract.WithAffectsAll(".github/workflows/**"))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range imp.Services {
		for _, r := range s.Reasons {
			fmt.Printf("%s: %s %s %s\n", s.Name, r.Kind, r.Path, r.Detail)
		}
	}
	// Output:
	// api: global .github/workflows/ci.yml .github/workflows/**
	// api: module common/common.go example.com/common
	// web: global .github/workflows/ci.yml .github/workflows/**
	// web: module common/common.go example.com/common
}
