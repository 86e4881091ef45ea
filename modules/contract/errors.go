package contract

import (
	"errors"
	"fmt"
)

// ErrInvalid marks every error that comes from a service.yaml, a Dockerfile
// or a go.mod that breaks the contract. Such errors are terminal: retrying
// cannot fix them, only an edit of the named file can.
var ErrInvalid = errors.New("invalid service contract")

// FieldError is one broken rule in one file: the file and the field it names
// are repository-relative, so the message reads the same on every machine.
type FieldError struct {
	// File is the repository-relative path of the file, e.g.
	// "services/x/service.yaml".
	File string
	// Line is the 1-based line of the field in File, or 0 when unknown.
	Line int
	// Field is the dotted path of the field, e.g. "health.port" or
	// "env[2].name"; empty for errors about the whole file.
	Field string
	// Msg says what is wrong, without the file and the field.
	Msg string
}

// Error renders "file: field: msg (line N)".
func (e *FieldError) Error() string {
	s := e.File + ": "
	if e.Field != "" {
		s += e.Field + ": "
	}
	s += e.Msg
	if e.Line > 0 {
		s += fmt.Sprintf(" (line %d)", e.Line)
	}
	return s
}

// Is reports that every FieldError is an ErrInvalid.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

// IsTerminal reports whether err is a contract violation that no retry can
// fix (as opposed to an I/O or network failure).
func IsTerminal(err error) bool { return errors.Is(err, ErrInvalid) }
