// Package diag is the one shape every check in this module reports: a
// finding that names the file, the object and the field at fault, so a
// reader can go straight to the byte to change.
package diag

import (
	"fmt"
	"sort"
	"strings"
)

// Finding is one violated rule. File is relative to the root the check was
// given; Object ("Kind/namespace/name") and Field are empty when the rule is
// about the file as a whole.
type Finding struct {
	File    string
	Object  string
	Field   string
	Rule    string
	Message string
}

// String renders the finding as "file: object: field: message [rule]".
func (f Finding) String() string {
	parts := make([]string, 0, 4)
	for _, p := range []string{f.File, f.Object, f.Field, f.Message} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	s := strings.Join(parts, ": ")
	if f.Rule != "" {
		s += " [" + f.Rule + "]"
	}
	return s
}

// List is a set of findings; it is an error when non-empty.
type List []Finding

// Error lists the findings one a line, sorted for stable output.
func (l List) Error() string {
	lines := make([]string, len(l))
	for i, f := range l {
		lines[i] = f.String()
	}
	sort.Strings(lines)
	return fmt.Sprintf("%d finding(s):\n%s", len(l), strings.Join(lines, "\n"))
}

// Err returns nil for an empty list and the list itself otherwise.
func (l List) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}
