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
// declared here, where they are consumed: the native runner passes the
// daemonless build of modules/oci, the Dagger module its DockerBuild.
package pipeline
