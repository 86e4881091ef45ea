package contract_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/ferry-ci/ferry/modules/contract"
)

func ExampleDiscover() {
	cat, err := contract.Discover("testdata/good")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, svc := range cat.Services {
		fmt.Printf("%s: %s, health port %d, image %s, manifest %s, build %v, %d input files\n",
			svc.Name, svc.Kind, svc.Health.Port, svc.Image, svc.Manifest, svc.Build.Strategies(), len(svc.Build.Files))
		if g := svc.Build.Go; g != nil {
			fmt.Printf("  go build %s in %s\n", g.Package, g.ModuleDir)
		}
	}
	// Output:
	// alpha: server, health port 8080, image ferry/alpha, manifest deployments/base/alpha, build [dockerfile], 4 input files
	// beta: worker, health port 9000, image beta, manifest deployments/base/beta, build [dockerfile go], 5 input files
	//   go build example.com/beta/cmd/beta in services/beta
}

func ExampleDiscover_errors() {
	_, err := contract.Discover("testdata/bad/port-out-of-range")
	fmt.Println(err)
	fmt.Println("terminal:", contract.IsTerminal(err))
	// Output:
	// services/x/service.yaml: health.port: 70000 is out of range 1..65535 (line 6)
	// terminal: true
}

func ExampleProbe() {
	// A service honouring the contract.
	mux := http.NewServeMux()
	mux.HandleFunc("/livez", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	mux.HandleFunc("/version", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"sha":"abc1234","service":"alpha","buildTs":"2026-11-27T07:00:00Z","imageDigest":""}`)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	report, err := contract.Probe(context.Background(), srv.URL,
		contract.WithServiceName("alpha"), contract.WithStartingAllowed())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range report.Checks {
		fmt.Println(c.Name, c.Status)
	}
	fmt.Println("starting:", report.Starting, "sha:", report.Version.SHA)

	// Without WithStartingAllowed, a 503 from /readyz is a failed check,
	// retryable because the service may still be starting.
	_, err = contract.Probe(context.Background(), srv.URL)
	fmt.Println("retryable:", contract.IsRetryable(err))
	// Output:
	// livez 200
	// readyz 503
	// version 200
	// starting: true sha: abc1234
	// retryable: true
}
