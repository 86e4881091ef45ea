package signing

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// RetryableError marks a failure worth retrying with backoff: the network,
// a 5xx or 429 from the registry, a write lost to a concurrent writer.
// Anything not wrapped in it is terminal.
type RetryableError struct{ Err error }

func (e *RetryableError) Error() string { return e.Err.Error() }
func (e *RetryableError) Unwrap() error { return e.Err }

// IsRetryable reports whether err is worth retrying.
func IsRetryable(err error) bool {
	var r *RetryableError
	return errors.As(err, &r)
}

// classifyRemote wraps wrapped in a RetryableError when cause is a network
// failure or a transient registry status.
func classifyRemote(wrapped, cause error) error {
	var te *transport.Error
	if errors.As(cause, &te) {
		if te.StatusCode >= 500 || te.StatusCode == 429 {
			return &RetryableError{Err: wrapped}
		}
		return wrapped
	}
	var ne net.Error
	var oe *net.OpError
	if errors.As(cause, &ne) || errors.As(cause, &oe) || strings.Contains(cause.Error(), "connection refused") {
		return &RetryableError{Err: wrapped}
	}
	return wrapped
}

// Checks a signature can fail, named in CheckError.Check.
const (
	CheckFormat        = "format"        // the stored signature is malformed
	CheckSignature     = "signature"     // the signature does not verify with the key or certificate
	CheckDigest        = "digest"        // the signature is of another image digest
	CheckPredicateType = "predicateType" // an attestation, not a signature
	CheckKey           = "key"           // signed with a certificate where a key is required, or vice versa
	CheckCertificate   = "certificate"   // the certificate chain or validity period does not verify
	CheckTlog          = "tlog"          // the transparency log entry is missing or does not verify
	CheckSCT           = "sct"           // the certificate transparency proof is missing or wrong
	CheckIssuer        = "issuer"        // the OIDC issuer differs from the policy
	CheckSubject       = "subject"       // the certificate identity differs from the policy
	CheckRepository    = "githubWorkflowRepository"
	CheckRef           = "githubWorkflowRef"
	CheckTrigger       = "githubWorkflowTrigger"
)

// CheckError says which check one stored signature failed.
type CheckError struct {
	// Check is one of the Check* constants.
	Check string
	// Source is where the signature is stored (a tag or a referrer digest).
	Source string
	// Err is the underlying reason.
	Err error
}

func (e *CheckError) Error() string {
	return fmt.Sprintf("checking %s of %s: %v", e.Check, e.Source, e.Err)
}

func (e *CheckError) Unwrap() error { return e.Err }

// ErrNoSignatures reports an image with no signature in any format looked at.
var ErrNoSignatures = errors.New("no signatures found")

// ErrNoMatchingSignature reports that signatures exist but none satisfies
// the policy; the VerifyError lists why each was rejected.
var ErrNoMatchingSignature = errors.New("no signature satisfies the policy")

// VerifyError is returned by Verify when no signature satisfies the policy.
type VerifyError struct {
	// Ref is the image verified.
	Ref string
	// Failures holds one entry per rejected signature.
	Failures []*CheckError
}

func (e *VerifyError) Error() string {
	if len(e.Failures) == 0 {
		return fmt.Sprintf("verifying %q: %v", e.Ref, ErrNoSignatures)
	}
	parts := make([]string, len(e.Failures))
	for i, f := range e.Failures {
		parts[i] = f.Error()
	}
	return fmt.Sprintf("verifying %q: %v: %s", e.Ref, ErrNoMatchingSignature, strings.Join(parts, "; "))
}

// Is matches ErrNoSignatures and ErrNoMatchingSignature.
func (e *VerifyError) Is(target error) bool {
	if len(e.Failures) == 0 {
		return target == ErrNoSignatures
	}
	return target == ErrNoMatchingSignature
}

// Checks returns the failed check names, one per rejected signature.
func (e *VerifyError) Checks() []string {
	out := make([]string, len(e.Failures))
	for i, f := range e.Failures {
		out[i] = f.Check
	}
	return out
}
