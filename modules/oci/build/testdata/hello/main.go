// Command hello is the tiny service the daemonless build tests package: it
// answers /livez, /readyz and /version on $PORT (default 8080).
package main

import (
	"encoding/json"
	"log"
	"net/http"
	"os"
	"runtime"
)

// Stamped by the build through -ldflags -X.
var (
	sha     = "unknown"
	buildTs = "unknown"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) }
	mux.HandleFunc("/livez", ok)
	mux.HandleFunc("/readyz", ok)
	mux.HandleFunc("/version", func(w http.ResponseWriter, _ *http.Request) {
		uid := os.Getuid()
		json.NewEncoder(w).Encode(map[string]any{"sha": sha, "buildTs": buildTs, "go": runtime.Version(), "uid": uid})
	})
	log.Fatal(http.ListenAndServe(":"+port, mux))
}
