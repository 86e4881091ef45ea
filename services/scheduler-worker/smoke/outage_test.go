package smoke_test

import (
	"io"
	"net"
	"net/url"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-ci/ferry/services/scheduler-worker/internal/pgtest"
)

// tcpProxy forwards a loopback port to a real server and can cut every
// connection and stop listening, which is what an outage looks like from
// the worker: refused and reset connections to a real PostgreSQL or
// Temporal.
type tcpProxy struct {
	target, addr string
	mu           sync.Mutex
	ln           net.Listener
	conns        map[net.Conn]struct{}
}

func newProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	p := &tcpProxy{target: target, addr: "127.0.0.1:" + strconv.Itoa(pgtest.FreePort(t)), conns: map[net.Conn]struct{}{}}
	t.Cleanup(p.down)
	return p
}

func (p *tcpProxy) up(t *testing.T) {
	t.Helper()
	var ln net.Listener
	waitFor(t, 10*time.Second, "the proxy to listen on "+p.addr, func() bool {
		var err error
		ln, err = net.Listen("tcp", p.addr)
		return err == nil
	})
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.pipe(c)
		}
	}()
}

func (p *tcpProxy) pipe(c net.Conn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[s] = struct{}{}, struct{}{}
	p.mu.Unlock()
	go func() { _, _ = io.Copy(s, c); s.Close() }()
	_, _ = io.Copy(c, s)
	c.Close()
}

func (p *tcpProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// TestDependencyOutages: PostgreSQL unreachable at start, then each
// dependency lost and restored while the worker runs. The process never
// exits, livez stays 200, readyz follows the dependencies, and the log says
// why at every step.
func TestDependencyOutages(t *testing.T) {
	temporalBin := temporalCLI(t)
	dbURL := pgtest.NewMigratedDatabase(t)
	workerBin := pgtest.Build(t, "./cmd/scheduler-worker", "scheduler-worker")
	temporalPort := pgtest.FreePort(t)
	tc := startDevServer(t, temporalBin, temporalPort)
	defer tc.Close()

	u, _ := url.Parse(dbURL)
	pgProxy := newProxy(t, u.Host)
	tProxy := newProxy(t, "127.0.0.1:"+strconv.Itoa(temporalPort))
	u.Host = pgProxy.addr
	tProxy.up(t)

	healthPort := pgtest.FreePort(t)
	base := "http://127.0.0.1:" + strconv.Itoa(healthPort)
	w := start(t, workerBin, []string{
		"TEMPORAL_ADDRESS=" + tProxy.addr,
		"TEMPORAL_TASK_QUEUE=outage-runs",
		"DATABASE_URL=" + u.String(),
		"APP_BASE_URL=http://127.0.0.1:9",
		"SCHEDULER_API_TOKEN=" + token,
		"HEALTH_PORT=" + strconv.Itoa(healthPort),
	})
	defer func() {
		if t.Failed() {
			t.Logf("worker output:\n%s%s", w.stdout.String(), w.stderr.String())
		}
	}()
	logged := func(msg, dep string) func() bool {
		return func() bool {
			n := 0
			for _, l := range w.stdout.lines(t) {
				if l["msg"] == msg {
					if deps, ok := l["dependencies"].([]any); dep == "" || l["dependency"] == dep || (ok && len(deps) > 0 && deps[0] == dep) {
						n++
					}
				}
			}
			return n > 0
		}
	}

	// PostgreSQL down at start.
	waitFor(t, 20*time.Second, "the log saying postgres is unreachable", logged("postgres unreachable, retrying", "postgres"))
	waitFor(t, 5*time.Second, "livez", func() bool { c, _ := httpGet(base + "/livez"); return c == 200 })
	if !readyzIs(base, 503)() {
		t.Fatal("readyz 200 without PostgreSQL")
	}
	assertAlive(t, w, base, "postgres down at start")
	pgProxy.up(t)
	waitFor(t, 30*time.Second, "readyz 200 once PostgreSQL answers", readyzIs(base, 200))

	for _, dep := range []struct {
		name string
		p    *tcpProxy
	}{{"postgres", pgProxy}, {"temporal", tProxy}} {
		dep.p.down()
		waitFor(t, 30*time.Second, "readyz 503 with "+dep.name+" gone", readyzIs(base, 503))
		assertAlive(t, w, base, dep.name+" lost")
		waitFor(t, 10*time.Second, "the log naming "+dep.name, logged("dependency unreachable, not ready", dep.name))
		dep.p.up(t)
		waitFor(t, 60*time.Second, "readyz 200 with "+dep.name+" back", readyzIs(base, 200))
		assertAlive(t, w, base, dep.name+" restored")
	}
	if !logged("dependencies reachable again, ready", "")() {
		t.Fatal("no log line for the recovery")
	}

	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	w.wait(t, 30*time.Second)
	if w.exitCode() != 0 {
		t.Fatalf("exit %d after SIGTERM", w.exitCode())
	}
}
