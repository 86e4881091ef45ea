// Command ci is the native runner of the release pipeline: the same
// pipeline as the Dagger module (modules/pipeline), with no container
// engine. With no flags it uses the embedded defaults under .ci/state: an
// in-process registry, a local signing key and a local deployments
// repository with its forge. Flags replace them with real targets: a
// registry, a deployments repository on GitHub or Gitea, keyless signing.
//
//	go run ./cmd/ci release --service scheduler-worker
//	go run ./cmd/ci plan --since origin/main --output json
//	go run ./cmd/ci release --service scheduler-worker --registry ghcr.io/org \
//	    --deployments https://github.com/org/deployments --forge github
//
// Progress goes to stderr; the result to stdout (--output json for
// scripts). The local signing key's password comes from
// FERRY_SIGNING_PASSWORD; unset, the key is encrypted with the empty
// password and protected by its 0600 mode. Credentials of real targets
// come only from the environment, never from flags, and never reach the
// output.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ferry-ci/ferry/modules/pipeline"
	"github.com/ferry-ci/ferry/modules/pipeline/native"
)

const usage = `usage: ci <command> [flags]

commands:
  release   test, build, push, sign, verify and open the promotion PR
  plan      say which services a release covers, with tags and fingerprints
  promote   open the PR pinning in --env (production) what --from (staging) pins
  promote-pr  open the PR pinning --image, pushed and signed elsewhere, in
            --env (staging), behind the release's gates
  rollback  open the PR reverting the promotion --env (staging) runs
  verify    check the signature of the image --env (staging) pins
  check     the pre-push validation: ferry.yaml, every service.yaml, and the
            deployments tree rendered and validated offline
  install-hooks  a git pre-push hook that runs check before every push

flags:
  --service NAME     a service (release, plan: repeatable or comma-separated)
  --since REV        release, plan: every service affected since REV; check: also
                     gofmt, go vet and the tests of what changed since REV
  --env ENV          the environment (default production for promote, else staging)
  --from ENV         promote: the environment whose pin is copied (default staging)
  --image REF        promote-pr: the image, pinned by digest (registry/repo@sha256:...);
                     off loopback its registry is read with the --registry
                     credentials below even without --registry
  --output FORMAT    human (default) or json
  --root DIR         the repository root (default: the git top level of .)
  --allow-dirty      release: build inputs with uncommitted changes under the
                     content-addressed tag only (no commit-named tag)

real targets (default: the embedded registry, key, deployments and forge):
  --registry HOST/NS     push to a real registry, e.g. ghcr.io/org; credentials
                         from FERRY_REGISTRY_USERNAME and FERRY_REGISTRY_PASSWORD,
                         else the Docker config (docker login; GITHUB_TOKEN for
                         ghcr.io), checked before anything is built
  --insecure-registry    allow plain HTTP to a --registry off loopback
  --deployments URL      the deployments repository: an HTTPS URL (token from
                         FERRY_GIT_TOKEN, else the forge token) or a local bare
                         repository (path or file://) for --forge local
  --forge NAME           local (default), github or gitea; API token from
                         FERRY_FORGE_TOKEN, else GITHUB_TOKEN or GITEA_TOKEN
  --forge-url URL        Gitea's or GitHub Enterprise Server's URL (default:
                         from --deployments)
  --keyless              sign with a Fulcio certificate logged in Rekor; identity
                         token from SIGSTORE_ID_TOKEN, else GitHub Actions' OIDC
                         (ACTIONS_ID_TOKEN_REQUEST_URL and _TOKEN)
  --fulcio-url URL       keyless: Fulcio (default https://fulcio.sigstore.dev)
  --rekor-url URL        keyless: Rekor (default https://rekor.sigstore.dev)
  --trusted-root FILE    keyless: the trusted_root.json verification chains to
  --certificate-identity ID          keyless: the signer identity verification
  --certificate-identity-regexp RE   accepts, exact or an anchored expression
  --certificate-oidc-issuer URL      keyless: the signer's OIDC issuer, exact
  --certificate-oidc-issuer-regexp RE  or an anchored expression (required)
  --insecure-ignore-sct  keyless: accept certificates without a CT timestamp
  --public-key FILE  verify a key signature with this cosign public key (PEM)
                     instead of the local key's (.ci/state/keys/cosign.pub):
                     the Verify step, verify, and the gates of promote,
                     promote-pr and rollback
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type options struct {
	services []string
	since    string
	env      string
	output   string
	root     string
	from     string
	image    string
	dirty    bool
	targets  targetFlags
}

func parse(args []string, stderr io.Writer) (string, options, error) {
	if len(args) == 0 {
		return "", options{}, errors.New("a command is required")
	}
	cmd := args[0]
	var o options
	switch cmd {
	case "help", "-h", "--help":
		return "", o, flag.ErrHelp
	case "release", "plan", "promote", "promote-pr", "rollback", "verify", "check", "install-hooks":
	default:
		return "", o, fmt.Errorf("unknown command %q", cmd)
	}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	fs.Func("service", "a service to release (repeatable)", func(s string) error {
		for _, n := range strings.Split(s, ",") {
			if n = strings.TrimSpace(n); n != "" {
				o.services = append(o.services, n)
			}
		}
		return nil
	})
	fs.StringVar(&o.since, "since", "", "release every service affected since this revision")
	fs.StringVar(&o.env, "env", "", "environment")
	fs.StringVar(&o.from, "from", "staging", "promote: the environment whose pin is copied")
	fs.StringVar(&o.image, "image", "", "promote-pr: the image, pinned by digest")
	fs.StringVar(&o.output, "output", "human", "human or json")
	fs.StringVar(&o.root, "root", "", "repository root")
	fs.BoolVar(&o.dirty, "allow-dirty", false, "release: build inputs with uncommitted changes (content-addressed tag only)")
	o.targets.register(fs)
	if err := fs.Parse(args[1:]); err != nil {
		return "", o, err
	}
	if err := o.targets.check(); err != nil {
		return "", o, err
	}
	if fs.NArg() > 0 {
		return "", o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if (cmd == "promote-pr") != (o.image != "") {
		if o.image == "" {
			return "", o, errors.New("promote-pr needs --image registry/repo@sha256:<hex>, the image to pin")
		}
		return "", o, fmt.Errorf("%s takes no --image: only promote-pr pins a given image", cmd)
	}
	if o.output != "human" && o.output != "json" {
		return "", o, fmt.Errorf("--output %q: want human or json", o.output)
	}
	switch cmd {
	case "release", "plan":
		if (len(o.services) == 0) == (o.since == "") {
			return "", o, errors.New("name --service or --since, one of the two")
		}
	case "check":
		if len(o.services) > 0 {
			return "", o, errors.New("check takes no --service: it covers the repository, and with --since REV also lints and tests what changed since REV")
		}
	case "install-hooks":
		if len(o.services) > 0 || o.since != "" {
			return "", o, fmt.Errorf("%s takes no --service or --since: it covers the whole repository", cmd)
		}
	default:
		if len(o.services) != 1 || o.since != "" {
			return "", o, fmt.Errorf("%s takes exactly one --service", cmd)
		}
	}
	if o.env == "" {
		o.env = "staging"
		if cmd == "promote" {
			o.env = "production"
		}
	}
	if o.root == "" {
		o.root = gitRoot()
	}
	return cmd, o, nil
}

func gitRoot() string {
	if out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output(); err == nil {
		return strings.TrimSpace(string(out))
	}
	return "."
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd, o, err := parse(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			return 0
		}
		fmt.Fprintf(stderr, "ci: %v\n\n%s", err, usage)
		return 2
	}
	cfg := native.Config{Root: o.root, Env: o.env, AllowDirty: o.dirty, Observer: progress(stderr)}
	o.targets.apply(&cfg)
	sel := native.Selection{Services: o.services, Since: o.since}
	switch cmd {
	case "release":
		rep, err := native.Release(ctx, cfg, sel)
		if err != nil {
			fmt.Fprintf(stderr, "ci: %v\n", err)
			return 1
		}
		if err := writeReport(stdout, o.output, rep); err != nil {
			fmt.Fprintf(stderr, "ci: %v\n", err)
			return 1
		}
		if err := rep.Err(); err != nil {
			fmt.Fprintf(stderr, "ci: %v\n", err)
			return 1
		}
		return 0
	case "plan":
		targets, err := native.Plan(ctx, cfg, sel)
		if err != nil {
			fmt.Fprintf(stderr, "ci: %v\n", err)
			return 1
		}
		if err := writePlan(stdout, o.output, targets); err != nil {
			fmt.Fprintf(stderr, "ci: %v\n", err)
			return 1
		}
		return 0
	case "promote", "promote-pr", "rollback":
		var p pipeline.Promotion
		switch cmd {
		case "promote":
			p, err = native.Promote(ctx, cfg, o.services[0], o.from)
		case "promote-pr":
			p, err = native.PromotePR(ctx, cfg, o.services[0], o.image)
		default:
			p, err = native.Rollback(ctx, cfg, o.services[0])
		}
		if err != nil {
			fmt.Fprintf(stderr, "ci: %v\n", err)
			return 1
		}
		return finish(writePromotion(stdout, o.output, o.services[0], p), stderr)
	case "check":
		rep, err := native.Check(ctx, o.root, checkOptions(o)...)
		if err != nil {
			fmt.Fprintf(stderr, "ci: %v\n", err)
			return 1
		}
		if err := writeCheck(stdout, o.output, rep); err != nil {
			fmt.Fprintf(stderr, "ci: %v\n", err)
			return 1
		}
		if len(rep.Findings) > 0 {
			fmt.Fprintf(stderr, "ci: check found %d problem(s)\n", len(rep.Findings))
			return 1
		}
		return 0
	case "install-hooks":
		return finish(installHook(o.root, stdout), stderr)
	case "verify":
		v, err := native.Verify(ctx, cfg, o.services[0])
		if err != nil {
			fmt.Fprintf(stderr, "ci: %v\n", err)
			return 1
		}
		return finish(writeVerification(stdout, o.output, o.services[0], o.env, v), stderr)
	default:
		fmt.Fprintf(stderr, "ci: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
}

func finish(err error, stderr io.Writer) int {
	if err != nil {
		fmt.Fprintf(stderr, "ci: %v\n", err)
		return 1
	}
	return 0
}

func writePromotion(w io.Writer, format, service string, p pipeline.Promotion) error {
	if format == "json" {
		return writeJSON(w, struct {
			Service string `json:"service"`
			pipeline.Promotion
		}{service, p})
	}
	if p.PullRequest == nil {
		_, err := fmt.Fprintf(w, "%s\n  pr         none: %s already pins it (%s)\n", service, p.Env, p.Action)
		return err
	}
	_, err := fmt.Fprintf(w, "%s\n  pr         #%d %s -> %s (%s, %s)\n", service, p.PullRequest.Number, p.PullRequest.Branch,
		p.PullRequest.Base, p.Action, p.PullRequest.URL)
	return err
}

func writeVerification(w io.Writer, format, service, env string, v pipeline.Verification) error {
	out := struct {
		Service string   `json:"service"`
		Env     string   `json:"env"`
		Image   string   `json:"image"`
		Signers []string `json:"signers"`
	}{service, env, v.Ref.String(), v.Signers}
	if format == "json" {
		return writeJSON(w, out)
	}
	_, err := fmt.Fprintf(w, "%s\n  image      %s\n  verified   %s\n", service, out.Image, strings.Join(v.Signers, ", "))
	return err
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// progress renders step events as one line each on stderr.
func progress(w io.Writer) pipeline.Observer {
	var mu sync.Mutex
	return func(e pipeline.Event) {
		if e.State == pipeline.StateStarted {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		line := fmt.Sprintf("%-18s %-8s %-10s %8s", e.Service, e.Step, e.State, e.Duration.Round(time.Millisecond))
		if e.Message != "" && e.State != pipeline.StateSucceeded {
			msg, _, _ := strings.Cut(e.Message, "\n")
			line += "  " + msg
		}
		fmt.Fprintln(w, line)
	}
}

func writeReport(w io.Writer, format string, rep *pipeline.Report) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	if len(rep.Services) == 0 {
		fmt.Fprintln(w, "nothing to release: no service is affected")
	}
	for _, s := range rep.Services {
		fmt.Fprintf(w, "%s\n", s.Target.Name)
		if s.Err != nil {
			fmt.Fprintf(w, "  failed     %v\n", s.Err)
			continue
		}
		fmt.Fprintf(w, "  image      %s\n", s.Image)
		if s.Signature != nil {
			fmt.Fprintf(w, "  signature  %s\n", s.Signature.Ref)
		} else {
			fmt.Fprintf(w, "  signature  already signed (%s)\n", strings.Join(s.Verification.Signers, ", "))
		}
		if p := s.Promotion; p != nil && p.PullRequest != nil {
			fmt.Fprintf(w, "  pr         #%d %s -> %s (%s, %s)\n", p.PullRequest.Number, p.PullRequest.Branch, p.PullRequest.Base, p.Action, p.PullRequest.URL)
		} else if p != nil {
			fmt.Fprintf(w, "  pr         none: %s already pins the digest\n", p.Env)
		}
	}
	return nil
}

func writePlan(w io.Writer, format string, targets []pipeline.Target) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(targets)
	}
	if len(targets) == 0 {
		fmt.Fprintln(w, "nothing to release: no service is affected")
	}
	for _, t := range targets {
		fmt.Fprintf(w, "%s\n  fingerprint  %s\n  tags         %s\n", t.Name, t.Fingerprint, strings.Join(t.Tags, " "))
		if len(t.Reasons) > 0 {
			fmt.Fprintf(w, "  because      %s\n", strings.Join(t.Reasons, "; "))
		}
	}
	return nil
}
