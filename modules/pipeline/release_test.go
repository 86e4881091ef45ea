package pipeline

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-ci/ferry/modules/oci"
)

// fakeSteps are in-memory steps that record the calls they get. Each step
// fails with errs[step] when set.
type fakeSteps struct {
	mu      sync.Mutex
	calls   []string
	errs    map[Step][]error // consumed one per call; then success
	cached  map[string]bool  // services whose fingerprint tag exists
	signed  map[string]bool  // services already signed
	noop    map[string]bool  // services whose overlay already pins
	hold    chan struct{}    // when set, Test waits on it
	running atomic.Int32
	maxRun  atomic.Int32
}

func newFakeSteps() *fakeSteps {
	return &fakeSteps{errs: map[Step][]error{}, cached: map[string]bool{}, signed: map[string]bool{}, noop: map[string]bool{}}
}

func (f *fakeSteps) record(step Step, svc string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, string(step)+" "+svc)
	if errs := f.errs[step]; len(errs) > 0 {
		f.errs[step] = errs[1:]
		return errs[0]
	}
	return nil
}

func fakeRef(svc string) oci.Pinned {
	repo, _ := oci.ParseRepository("registry.test/" + svc)
	d, _ := oci.ParseDigest("sha256:" + strings.Repeat("ab", 32))
	return repo.Pin(d)
}

func (f *fakeSteps) Test(ctx context.Context, t Target) error {
	n := f.running.Add(1)
	defer f.running.Add(-1)
	for {
		m := f.maxRun.Load()
		if n <= m || f.maxRun.CompareAndSwap(m, n) {
			break
		}
	}
	if f.hold != nil {
		select {
		case <-f.hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return f.record(StepTest, t.Name)
}

func (f *fakeSteps) Build(_ context.Context, t Target) (Built, error) {
	return Built{Target: t, Artifact: "image of " + t.Name}, f.record(StepBuild, t.Name)
}

func (f *fakeSteps) Lookup(_ context.Context, t Target) (oci.Pinned, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cached[t.Name] {
		return fakeRef(t.Name), true, nil
	}
	return oci.Pinned{}, false, nil
}

func (f *fakeSteps) Push(_ context.Context, b Built) (oci.Pinned, error) {
	if b.Artifact != "image of "+b.Target.Name {
		return oci.Pinned{}, fmt.Errorf("pushing: artifact %v is not the built one", b.Artifact)
	}
	if err := f.record(StepPush, b.Target.Name); err != nil {
		return oci.Pinned{}, err
	}
	return fakeRef(b.Target.Name), nil
}

func (f *fakeSteps) Sign(_ context.Context, ref oci.Pinned) (Signature, error) {
	svc := ref.Repository().String()[len("registry.test/"):]
	if err := f.record(StepSign, svc); err != nil {
		return Signature{}, err
	}
	f.mu.Lock()
	f.signed[svc] = true
	f.mu.Unlock()
	return Signature{Ref: "registry.test/" + svc + ":sha256-" + ref.Digest().Hex() + ".sig", Format: "legacy"}, nil
}

func (f *fakeSteps) Verify(_ context.Context, ref oci.Pinned) (Verification, error) {
	svc := ref.Repository().String()[len("registry.test/"):]
	f.mu.Lock()
	ok := f.signed[svc]
	f.mu.Unlock()
	if !ok {
		return Verification{}, MarkTerminal(errors.New("verifying: no signatures found"))
	}
	if err := f.record(StepVerify, svc); err != nil {
		return Verification{}, err
	}
	return Verification{Ref: ref, Signers: []string{"key"}}, nil
}

func (f *fakeSteps) PromotePR(_ context.Context, env string, t Target, ref oci.Pinned) (Promotion, error) {
	if err := f.record(StepPromote, t.Name); err != nil {
		return Promotion{}, err
	}
	if f.noop[t.Name] {
		return Promotion{Env: env, Action: NoopAction}, nil
	}
	return Promotion{Env: env, Action: "created", Head: "abc",
		PullRequest: &PullRequest{Number: 1, URL: "local://1", Branch: "promote/" + env + "/" + t.Name, Base: "main"}}, nil
}

func (f *fakeSteps) steps() Steps {
	return Steps{Tester: f, Builder: f, Pusher: f, Signer: f, Verifier: f, Promoter: f}
}

func (f *fakeSteps) callsOf(svc string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		if strings.HasSuffix(c, " "+svc) {
			out = append(out, strings.TrimSuffix(c, " "+svc))
		}
	}
	return out
}

func targets(names ...string) []Target {
	var ts []Target
	for _, n := range names {
		ts = append(ts, Target{Name: n, Fingerprint: "f00d", Tags: []string{n + "-f00d"}})
	}
	return ts
}

func stepStates(rs []StepResult) []string {
	var out []string
	for _, r := range rs {
		out = append(out, string(r.Step)+":"+string(r.State))
	}
	return out
}

func TestReleaseFakeSteps(t *testing.T) {
	noWait := Backoff{Attempts: 2, Initial: time.Millisecond, Max: time.Millisecond}
	for _, tc := range []struct {
		name       string
		setup      func(*fakeSteps)
		wantCalls  []string
		wantStates []string
		wantErr    string
		wantClass  Class
		wantCached bool
		wantPR     bool
	}{
		{
			name:       "every step in order",
			wantCalls:  []string{"test", "build", "push", "sign", "verify", "promote"},
			wantStates: []string{"test:succeeded", "build:succeeded", "push:succeeded", "sign:succeeded", "verify:succeeded", "promote:succeeded"},
			wantPR:     true,
		},
		{
			name:       "failing tests stop before the build",
			setup:      func(f *fakeSteps) { f.errs[StepTest] = []error{errors.New("go test: exit status 1")} },
			wantCalls:  []string{"test"},
			wantStates: []string{"test:failed"},
			wantErr:    "test of svc (terminal): go test: exit status 1",
		},
		{
			name:       "failing verify promotes nothing",
			setup:      func(f *fakeSteps) { f.errs[StepVerify] = []error{errors.New("no signature satisfies the policy")} },
			wantCalls:  []string{"test", "build", "push", "sign", "verify"},
			wantStates: []string{"test:succeeded", "build:succeeded", "push:succeeded", "sign:succeeded", "verify:failed"},
			wantErr:    "verify of svc (terminal): no signature satisfies the policy",
		},
		{
			name:       "retryable push is retried",
			setup:      func(f *fakeSteps) { f.errs[StepPush] = []error{MarkRetryable(errors.New("503"))} },
			wantCalls:  []string{"test", "build", "push", "push", "sign", "verify", "promote"},
			wantStates: []string{"test:succeeded", "build:succeeded", "push:succeeded", "sign:succeeded", "verify:succeeded", "promote:succeeded"},
			wantPR:     true,
		},
		{
			name: "retryable promotion out of attempts stays retryable",
			setup: func(f *fakeSteps) {
				f.errs[StepPromote] = []error{MarkRetryable(errors.New("lease lost")), MarkRetryable(errors.New("lease lost"))}
			},
			wantCalls:  []string{"test", "build", "push", "sign", "verify", "promote", "promote"},
			wantStates: []string{"test:succeeded", "build:succeeded", "push:succeeded", "sign:succeeded", "verify:succeeded", "promote:failed"},
			wantErr:    "promote of svc (retryable): lease lost",
			wantClass:  Retryable,
		},
		{
			name:       "fingerprint hit skips test, build, push and signing again",
			setup:      func(f *fakeSteps) { f.cached["svc"], f.signed["svc"], f.noop["svc"] = true, true, true },
			wantCalls:  []string{"verify", "promote"},
			wantStates: []string{"test:skipped", "build:skipped", "push:skipped", "sign:skipped", "verify:succeeded", "promote:skipped"},
			wantCached: true,
		},
		{
			name:       "fingerprint hit without a signature signs",
			setup:      func(f *fakeSteps) { f.cached["svc"] = true },
			wantCalls:  []string{"sign", "verify", "promote"},
			wantStates: []string{"test:skipped", "build:skipped", "push:skipped", "sign:succeeded", "verify:succeeded", "promote:succeeded"},
			wantCached: true,
			wantPR:     true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSteps()
			if tc.setup != nil {
				tc.setup(f)
			}
			rep, err := Release(context.Background(), Config{Steps: f.steps(), Env: "staging", Backoff: noWait}, targets("svc"))
			if err != nil {
				t.Fatal(err)
			}
			got := f.callsOf("svc")
			if tc.wantCached && len(got) > 0 && got[0] == "verify" {
				// The probe of the existing signature is a verify call too.
				got = got[1:]
			}
			if !reflect.DeepEqual(got, tc.wantCalls) {
				t.Errorf("calls = %v, want %v", got, tc.wantCalls)
			}
			res := rep.Services[0]
			if s := stepStates(res.Steps); !reflect.DeepEqual(s, tc.wantStates) {
				t.Errorf("steps = %v, want %v", s, tc.wantStates)
			}
			if res.Cached != tc.wantCached {
				t.Errorf("cached = %v, want %v", res.Cached, tc.wantCached)
			}
			if tc.wantErr == "" {
				if rep.Err() != nil {
					t.Fatalf("unexpected failure: %v", rep.Err())
				}
				if res.Image != fakeRef("svc").String() || res.Verification == nil || res.Promotion == nil {
					t.Errorf("result = %+v, want image, verification and promotion", res)
				}
			} else {
				var se *StepError
				if !errors.As(rep.Err(), &se) || rep.Err().Error() != tc.wantErr || se.Class != tc.wantClass {
					t.Fatalf("err = %v, want %q (%s)", rep.Err(), tc.wantErr, tc.wantClass)
				}
				if res.Promotion != nil {
					t.Errorf("a failed release recorded a promotion: %+v", res.Promotion)
				}
			}
			if tc.wantPR != (res.Promotion != nil && res.Promotion.PullRequest != nil) {
				t.Errorf("promotion = %+v, want a PR: %v", res.Promotion, tc.wantPR)
			}
		})
	}
}

func TestReleaseConcurrencyBoundFake(t *testing.T) {
	f := newFakeSteps()
	f.hold = make(chan struct{})
	names := []string{"a", "b", "c", "d", "e"}
	done := make(chan *Report)
	go func() {
		rep, err := Release(context.Background(), Config{Steps: f.steps(), Env: "staging", Concurrency: 2}, targets(names...))
		if err != nil {
			t.Error(err)
		}
		done <- rep
	}()
	// Let the first two services reach Test, then release them all.
	deadline := time.Now().Add(5 * time.Second)
	for f.running.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	close(f.hold)
	rep := <-done
	if m := f.maxRun.Load(); m != 2 {
		t.Errorf("at most %d services ran at once, want 2", m)
	}
	if rep.Err() != nil || len(rep.Services) != len(names) {
		t.Fatalf("report = %+v, err %v", rep, rep.Err())
	}
	for i, s := range rep.Services {
		if s.Target.Name != names[i] || len(s.Steps) != 6 {
			t.Errorf("service %d = %s with %d steps, want %s with 6", i, s.Target.Name, len(s.Steps), names[i])
		}
	}
}

func TestReleaseEventsFake(t *testing.T) {
	f := newFakeSteps()
	f.errs[StepSign] = []error{errors.New("key refused")}
	var log eventLog
	rep, err := Release(context.Background(), Config{Steps: f.steps(), Env: "staging", Observer: log.observe}, targets("ok", "bad"))
	if err != nil {
		t.Fatal(err)
	}
	perService := map[string][]string{}
	for _, e := range log.events {
		perService[e.Service] = append(perService[e.Service], string(e.Step)+":"+string(e.State))
		if e.State.Final() && e.Duration < 0 {
			t.Errorf("event %+v has a negative duration", e)
		}
	}
	want := map[string][]string{
		"ok": {"test:started", "test:succeeded", "build:started", "build:succeeded", "push:started", "push:succeeded",
			"sign:started", "sign:succeeded", "verify:started", "verify:succeeded", "promote:started", "promote:succeeded"},
		"bad": {"test:started", "test:succeeded", "build:started", "build:succeeded", "push:started", "push:succeeded",
			"sign:started", "sign:failed"},
	}
	if !reflect.DeepEqual(perService, want) {
		t.Errorf("events = %v\nwant %v", perService, want)
	}
	if err := rep.Err(); err == nil || !strings.Contains(err.Error(), "sign of bad (terminal): key refused") {
		t.Errorf("report err = %v, want the sign failure of bad only", err)
	}
}

func TestReleaseBadConfig(t *testing.T) {
	f := newFakeSteps()
	for _, tc := range []struct {
		name    string
		cfg     Config
		targets []Target
		wantErr string
	}{
		{name: "missing step", cfg: Config{Steps: Steps{Tester: f}, Env: "staging"}, wantErr: "is missing"},
		{name: "no environment", cfg: Config{Steps: f.steps()}, wantErr: "no environment"},
		{name: "duplicate target", cfg: Config{Steps: f.steps(), Env: "staging"}, targets: targets("a", "a"), wantErr: `releasing "a": listed twice`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Release(context.Background(), tc.cfg, tc.targets)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || Classify(err) != Terminal {
				t.Fatalf("err = %v, want terminal %q", err, tc.wantErr)
			}
		})
	}
}
