// Package pipeline is the release pipeline, written once and run by both
// front doors (the native runner cmd/ci and the Dagger module ci/).
//
// A release of one service is a fixed order of typed steps: Test, Build,
// Push, Sign, Verify, PromotePR. Each step takes the typed value the step
// before it produced (a service, an image, a digest reference, a signature
// reference) and records a StepResult. The pipeline owns what is the same for
// every front door: the order of the steps, error classification (terminal,
// retryable, skipped), bounded retries of retryable failures, bounded
// concurrency across services, and the progress Events that the front doors
// render (the library itself never prints).
//
// What a step does is supplied by the front door through small interfaces
// declared here, where they are consumed (Tester, Builder, Pusher, Signer,
// Verifier, Promoter): the native runner passes the daemonless build of
// modules/oci (package native), the Dagger module its DockerBuild.
//
// Plan turns a request (services by name, or every service contract.Affected
// finds since a base revision) into Targets: the contract, the image
// repository, the fingerprint of the build inputs and the tags
// ({service}-{fingerprint} first). Release runs the steps of each target,
// several at once within a bound. A target whose fingerprint tag already
// exists skips Test, Build and Push (its image was built, and so tested,
// from the same inputs); Sign is skipped when a valid signature exists; a
// promotion that changes nothing is skipped. A failed step stops its
// service: nothing after it runs, so an image that did not verify is never
// promoted.
//
// # Uncommitted changes
//
// Plan lists, per target, the files of the service's inputs (its folder,
// build context, Dockerfile and Go module) that git reports as modified,
// added, deleted or untracked (Target.Dirty). Release refuses such a
// target: its plan step fails (terminal) naming the files, the way to fix
// it (commit or stash) and the override (Config.AllowDirty, the runner's
// --allow-dirty), before anything is tested, built or published. The
// reason is what the release writes: the {env}-{sha}-{service} tag, the
// commit stamped into the binary and the promotion's source commit would
// all name a commit the image was not built from (goreleaser refuses a
// dirty tree for the same reason; Kargo only ever promotes commits; ko
// builds what is on disk but its tags name no commit). With AllowDirty the
// release goes on with only what stays true: the content-addressed
// {service}-{fingerprint} tag (the fingerprint reads the files on disk),
// no commit stamped, no {env}-{sha}-{service} tag.
package pipeline
