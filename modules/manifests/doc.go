// Package manifests is part of the ferry release tool; see the repository README.
package manifests
