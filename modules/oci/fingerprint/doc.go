// Package fingerprint computes the content address of a service's build
// inputs: the {fingerprint} in the tag {service}-{fingerprint}.
//
// # What goes in
//
// The hash is SHA-256 over a versioned, length-prefixed record stream, so no
// two different input sets can produce the same byte stream:
//
//  1. the scheme name "ferry-fingerprint/v1";
//  2. for every input file, in byte order of its repository-relative path
//     (slash-separated, cleaned, duplicates folded): the path, one byte that
//     is "x" when any executable bit is set and "-" otherwise, and the
//     SHA-256 of its contents. Symbolic links are not followed: the link
//     target text is hashed and the mode byte is "l". Directories given as
//     inputs are walked; they contribute their files, not themselves, so an
//     empty directory changes nothing;
//  3. the Dockerfile's repository-relative path and the SHA-256 of its
//     contents (even when the Dockerfile is also among the files);
//  4. the Go version (for example "go1.26.8");
//  5. the build arguments that change the output, sorted by name, each as
//     name and value;
//  6. the target platforms ("linux/amd64"), sorted and de-duplicated.
//
// What stays out: absolute paths (the checkout location), timestamps, owners,
// permission bits other than executable, file system order, the machine, the
// environment. Equal inputs therefore give equal fingerprints on any machine
// and in any checkout path, and any change to an input changes it.
//
// The tag carries the first 32 hex characters (128 bits) of the hash.
package fingerprint
