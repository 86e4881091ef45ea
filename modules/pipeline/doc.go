// Package pipeline is part of the ferry release tool; see the repository README.
package pipeline
