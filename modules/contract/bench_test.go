package contract

import (
	"fmt"
	"os/exec"
	"reflect"
	"syscall"
	"testing"
	"time"
)

// generated describes a generated monorepo: services svc-000..svc-NNN,
// shared modules lib-00..lib-09 in go.work; service i requires lib-(i%10)
// and, for every fourth service, a replaced module rep-(i%5).
type generated struct {
	repo       *gitRepo
	base, head string
	// want is the affected set of base..head.
	want []string
}

func generateMonorepo(tb testing.TB, services int) *generated {
	tb.Helper()
	files := map[string]string{"README.md": "# generated\n"}
	work := "go 1.26.0\n\nuse (\n"
	for l := 0; l < 10; l++ {
		dir := fmt.Sprintf("modules/lib-%02d", l)
		work += "\t./" + dir + "\n"
		files[dir+"/go.mod"] = fmt.Sprintf("module example.com/lib%02d\n\ngo 1.26.0\n", l)
		files[dir+"/lib.go"] = fmt.Sprintf("package lib%02d\n", l)
		files[dir+"/util/util.go"] = "package util\n"
	}
	for r := 0; r < 5; r++ {
		dir := fmt.Sprintf("modules/rep-%d", r)
		files[dir+"/go.mod"] = fmt.Sprintf("module example.com/rep%d\n\ngo 1.26.0\n", r)
		files[dir+"/rep.go"] = fmt.Sprintf("package rep%d\n", r)
	}
	for i := 0; i < services; i++ {
		name := fmt.Sprintf("svc-%03d", i)
		dir := "services/" + name
		work += "\t./" + dir + "\n"
		gomod := fmt.Sprintf("module example.com/%s\n\ngo 1.26.0\n\nrequire example.com/lib%02d v0.0.0\n", name, i%10)
		if i%4 == 0 {
			gomod += fmt.Sprintf("require example.com/rep%d v0.0.0\n\nreplace example.com/rep%d => ../../modules/rep-%d\n", i%5, i%5, i%5)
		}
		files[dir+"/go.mod"] = gomod
		files[dir+"/service.yaml"] = svcYAML(name, "build:\n  go:\n    main: ./cmd/"+name+"\n    ldflags:\n      sha: main.gitSHA\n")
		files[dir+"/Dockerfile"] = "FROM golang AS build\nCOPY go.mod ./\nCOPY . /src\nFROM scratch\nCOPY --from=build /out /app\n"
		files[dir+"/.dockerignore"] = "**/*_test.go\n"
		files[dir+"/cmd/"+name+"/main.go"] = "package main\n"
		files[dir+"/internal/app/app.go"] = "package app\n"
		files[dir+"/internal/app/app_test.go"] = "package app\n"
		files["deployments/base/"+name+"/kustomization.yaml"] = "resources: []\n"
	}
	files["go.work"] = work + ")\n"

	g := &generated{repo: newGitRepo(tb)}
	g.repo.write(files)
	g.base = g.commitAll("generated monorepo")
	// The change: lib-03 (services 3, 13, 23, ...), rep-2 (services i%4==0
	// && i%5==2), and two service folders.
	g.repo.write(map[string]string{
		"modules/lib-03/util/util.go":          "package util // v2\n",
		"modules/rep-2/rep.go":                 "package rep2 // v2\n",
		"services/svc-001/internal/app/app.go": "package app // v2\n",
		"services/svc-002/cmd/svc-002/main.go": "package main // v2\n",
		"README.md":                            "# generated v2\n",
	})
	g.head = g.commitAll("change a library, a replaced module and two services")
	set := map[string]bool{"svc-001": true, "svc-002": true}
	for i := 0; i < services; i++ {
		if i%10 == 3 || (i%4 == 0 && i%5 == 2) {
			set[fmt.Sprintf("svc-%03d", i)] = true
		}
	}
	for i := 0; i < services; i++ {
		if n := fmt.Sprintf("svc-%03d", i); set[n] {
			g.want = append(g.want, n)
		}
	}
	return g
}

// commitAll commits with the real git when it is installed (much faster on
// a thousand files), else with go-git.
func (g *generated) commitAll(msg string) string {
	if _, err := exec.LookPath("git"); err != nil {
		return g.repo.commit(msg)
	}
	g.repo.gitCLI("add", "-A")
	g.repo.gitCLI("-c", "user.name=Ferry Test", "-c", "user.email=test@ferry.invalid", "commit", "-q", "-m", msg)
	out, _ := g.repo.gitCLI("rev-parse", "HEAD")
	return out[:40]
}

func TestAffectedGeneratedMonorepo(t *testing.T) {
	g := generateMonorepo(t, 40)
	imp, err := Affected(t.Context(), g.repo.dir, g.base, g.head, WithAffectsAll("go.work"))
	if err != nil {
		t.Fatal(err)
	}
	if got := imp.Names(); !reflect.DeepEqual(got, g.want) {
		t.Errorf("affected = %v\nwant %v", got, g.want)
	}
	if len(imp.Considered) != 40 {
		t.Errorf("considered %d services, want 40", len(imp.Considered))
	}
	for _, s := range imp.Services {
		if len(s.Service.Build.Files) != 6 {
			t.Errorf("%s: build inputs %q, want 6 files (the test file is ignored)", s.Name, s.Service.Build.Files)
		}
	}
}

// BenchmarkDiscover loads the catalog of a 200-service work tree.
func BenchmarkDiscover(b *testing.B) {
	g := generateMonorepo(b, 200)
	cpu := startCPU()
	for b.Loop() {
		cat, err := Discover(g.repo.dir)
		if err != nil || len(cat.Services) != 200 {
			b.Fatalf("Discover: %d services, %v", len(cat.Services), err)
		}
	}
	cpu.report(b)
}

// BenchmarkAffected computes the affected services of a 200-service
// monorepo between two commits: it opens the repository, diffs the trees,
// loads the whole catalog from the target commit and follows every
// service's modules and Dockerfile.
func BenchmarkAffected(b *testing.B) {
	g := generateMonorepo(b, 200)
	benchAffected(b, g)
}

// BenchmarkAffectedPacked is BenchmarkAffected after git gc, as in a clone.
func BenchmarkAffectedPacked(b *testing.B) {
	g := generateMonorepo(b, 200)
	if _, ok := g.repo.gitCLI("gc", "-q"); !ok {
		b.Skip("git is not installed")
	}
	benchAffected(b, g)
}

func benchAffected(b *testing.B, g *generated) {
	cpu := startCPU()
	for b.Loop() {
		imp, err := Affected(b.Context(), g.repo.dir, g.base, g.head, WithAffectsAll("go.work"))
		if err != nil {
			b.Fatal(err)
		}
		if len(imp.Services) != len(g.want) {
			b.Fatalf("affected %d services, want %d", len(imp.Services), len(g.want))
		}
	}
	cpu.report(b)
}

// cpuClock measures the process's CPU time (user + system), which on a
// shared machine says more about the code than the wall clock does.
type cpuClock struct{ start time.Duration }

func cpuNow() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU() cpuClock { return cpuClock{start: cpuNow()} }

// report adds a cpu-ms/op metric; call it after the b.Loop loop.
func (c cpuClock) report(b *testing.B) {
	b.ReportMetric(float64(cpuNow()-c.start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}
