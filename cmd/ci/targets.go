package main

import (
	"errors"
	"flag"

	"github.com/ferry-ci/ferry/modules/pipeline/native"
	"github.com/ferry-ci/ferry/modules/signing"
)

// targetFlags are the flags that replace the embedded defaults with real
// targets: a registry, a deployments repository on a forge, keyless
// signing. Secrets never come from flags (they would show in process
// lists and shell history): only from the environment.
type targetFlags struct {
	registry    string
	insecure    bool
	deployments string
	forge       string
	forgeURL    string

	keyless       bool
	fulcioURL     string
	rekorURL      string
	trustedRoot   string
	identity      signing.Identity
	skipSCTUnsafe bool

	publicKey string
}

func (t *targetFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&t.registry, "registry", "", "registry host[:port]/namespace (default: embedded)")
	fs.BoolVar(&t.insecure, "insecure-registry", false, "allow plain HTTP to a --registry off loopback")
	fs.StringVar(&t.deployments, "deployments", "", "deployments repository: HTTPS URL or local bare repository (default: local)")
	fs.StringVar(&t.forge, "forge", native.ForgeLocal, "local, github or gitea")
	fs.StringVar(&t.forgeURL, "forge-url", "", "Gitea or GitHub Enterprise Server URL (default: from --deployments)")
	fs.BoolVar(&t.keyless, "keyless", false, "sign with Fulcio and Rekor instead of the local key")
	fs.StringVar(&t.fulcioURL, "fulcio-url", "", "keyless: Fulcio URL (default "+native.PublicFulcio+")")
	fs.StringVar(&t.rekorURL, "rekor-url", "", "keyless: Rekor URL (default "+native.PublicRekor+")")
	fs.StringVar(&t.trustedRoot, "trusted-root", "", "keyless: trusted_root.json to verify against")
	fs.StringVar(&t.identity.Subject, "certificate-identity", "", "keyless: the signer identity verification accepts")
	fs.StringVar(&t.identity.SubjectRegexp, "certificate-identity-regexp", "", "keyless: the same, as an anchored regular expression")
	fs.StringVar(&t.identity.Issuer, "certificate-oidc-issuer", "", "keyless: the OIDC issuer verification accepts")
	fs.StringVar(&t.identity.IssuerRegexp, "certificate-oidc-issuer-regexp", "", "keyless: the same, as an anchored regular expression")
	fs.BoolVar(&t.skipSCTUnsafe, "insecure-ignore-sct", false, "keyless: accept certificates without a CT timestamp (private Fulcio)")
	fs.StringVar(&t.publicKey, "public-key", "", "cosign public key (PEM) that verifies key signatures (default: the local key's)")
}

// check refuses keyless settings without --keyless, which would otherwise
// be silently ignored.
func (t *targetFlags) check() error {
	if !t.keyless && (t.fulcioURL != "" || t.rekorURL != "" || t.trustedRoot != "" || t.identity != (signing.Identity{}) || t.skipSCTUnsafe) {
		return errors.New("--fulcio-url, --rekor-url, --trusted-root, --certificate-* and --insecure-ignore-sct need --keyless")
	}
	if t.keyless && t.publicKey != "" {
		return errors.New("--public-key verifies key signatures, --keyless certificate ones: give one of the two")
	}
	return nil
}

// apply copies the targets into cfg.
func (t *targetFlags) apply(cfg *native.Config) {
	cfg.Registry, cfg.InsecureRegistry = t.registry, t.insecure
	cfg.Deployments, cfg.Forge, cfg.ForgeURL = t.deployments, t.forge, t.forgeURL
	cfg.PublicKey = t.publicKey
	if t.keyless {
		cfg.Keyless = &native.Keyless{FulcioURL: t.fulcioURL, RekorURL: t.rekorURL, TrustedRoot: t.trustedRoot,
			Identity: t.identity, SkipSCTUnsafe: t.skipSCTUnsafe}
	}
}
