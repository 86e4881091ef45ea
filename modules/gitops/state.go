package gitops

import (
	"encoding/json"
	"fmt"
	"strings"
)

const stateMarker = "<!-- ferry-promotion:v1 "

// ImageState is one promoted image as recorded in a promotion commit and
// its pull request.
type ImageState struct {
	Service        string   `json:"service"`
	Name           string   `json:"name"`
	NewName        string   `json:"newName,omitempty"`
	Tag            string   `json:"tag,omitempty"`
	Digest         string   `json:"digest"`
	OldTag         string   `json:"oldTag,omitempty"`
	OldDigest      string   `json:"oldDigest,omitempty"`
	Platforms      []string `json:"platforms,omitempty"`
	SourceRepo     string   `json:"sourceRepo,omitempty"`
	SourceCommit   string   `json:"sourceCommit,omitempty"`
	PreviousCommit string   `json:"previousCommit,omitempty"`
	CIRunURL       string   `json:"ciRunURL,omitempty"`
	Signer         string   `json:"signer,omitempty"`
	Issuer         string   `json:"issuer,omitempty"`
	LogEntry       string   `json:"logEntry,omitempty"`
	SBOM           string   `json:"sbom,omitempty"`
	Provenance     string   `json:"provenance,omitempty"`
}

// State is the machine-readable record of a promotion, hidden in the
// commit message and the pull request body.
type State struct {
	Env      string       `json:"env"`
	Branch   string       `json:"branch"`
	Base     string       `json:"base"`
	Rollback bool         `json:"rollback,omitempty"`
	RevertOf string       `json:"revertOf,omitempty"`
	Images   []ImageState `json:"images"`
	// Truncated marks a pull request body's copy that had to drop fields
	// or images to fit the forge's limit.
	Truncated bool `json:"truncated,omitempty"`
}

func (s State) block() string {
	b, _ := json.Marshal(s)
	// "--" cannot end an HTML comment early once escaped.
	return stateMarker + strings.ReplaceAll(string(b), "--", `-\u002d`) + " -->"
}

// ParseState reads the hidden promotion block of a commit message or pull
// request body; ok is false when there is none.
func ParseState(text string) (State, bool, error) {
	i := strings.LastIndex(text, stateMarker)
	if i < 0 {
		return State{}, false, nil
	}
	rest := text[i+len(stateMarker):]
	j := strings.Index(rest, " -->")
	if j < 0 {
		return State{}, false, fmt.Errorf("reading promotion state: unterminated block")
	}
	var s State
	if err := json.Unmarshal([]byte(rest[:j]), &s); err != nil {
		return State{}, false, fmt.Errorf("reading promotion state: %w", err)
	}
	return s, true, nil
}
