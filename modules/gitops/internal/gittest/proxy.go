package gittest

import (
	"bytes"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
)

// CutProxy is a loopback TCP proxy in front of an HTTP git server. While
// armed, it forwards a push's request (POST …/git-receive-pack) up to a
// number of its body bytes and then closes both sides of the connection:
// a network failure in the middle of a push, as the client and the server
// see it.
type CutProxy struct {
	// URL is the proxy's base URL (http://127.0.0.1:port).
	URL string
	// Cuts counts the connections cut.
	Cuts atomic.Int64

	target string
	after  atomic.Int64 // body bytes forwarded before a cut; 0: disarmed
	ln     net.Listener
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]bool
}

// NewCutProxy starts a proxy in front of the server at rawURL (http://host:port).
func NewCutProxy(t testing.TB, rawURL string) *CutProxy {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &CutProxy{URL: "http://" + ln.Addr().String(), target: u.Host, ln: ln, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.conns[c] = true
			p.mu.Unlock()
			p.wg.Add(1)
			go func() { defer p.wg.Done(); p.serve(c) }()
		}
	}()
	// Clients keep idle connections open: close them all at the end.
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

// CutPushesAfter arms the proxy: every push from now on is cut after n
// bytes of its request body (n <= 0 disarms it).
func (p *CutProxy) CutPushesAfter(n int64) { p.after.Store(max(n, 0)) }

var (
	postPrefix  = []byte("POST ")
	receivePack = []byte("git-receive-pack")
	headerEnd   = []byte("\r\n\r\n")
)

// pushBodyStart returns where the body of the first push request in stream
// starts, or -1 while stream holds none (yet).
func pushBodyStart(stream []byte) int {
	for off := 0; ; {
		i := bytes.Index(stream[off:], postPrefix)
		if i < 0 {
			return -1
		}
		i += off
		line, _, _ := bytes.Cut(stream[i:], []byte("\r\n"))
		if bytes.Contains(line, receivePack) {
			if j := bytes.Index(stream[i:], headerEnd); j >= 0 {
				return i + j + len(headerEnd)
			}
			return -1
		}
		off = i + len(postPrefix)
	}
}

func (p *CutProxy) serve(c net.Conn) {
	defer func() {
		c.Close()
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
	}()
	u, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer u.Close()
	go func() {
		_, _ = io.Copy(c, u)
		c.Close()
	}()
	var stream []byte
	forwarded, limit := 0, -1
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			stream = append(stream, buf[:n]...)
			if after := p.after.Load(); limit < 0 && after > 0 {
				if start := pushBodyStart(stream); start >= 0 {
					limit = start + int(after)
				}
			}
			end := len(stream)
			if limit >= 0 && end > limit {
				end = limit
			}
			if _, werr := u.Write(stream[forwarded:end]); werr != nil {
				return
			}
			forwarded = end
			if limit >= 0 && forwarded >= limit {
				p.Cuts.Add(1)
				return
			}
		}
		if err != nil {
			if tc, ok := u.(*net.TCPConn); ok {
				_ = tc.CloseWrite()
			}
			return
		}
	}
}
