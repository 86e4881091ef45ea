package rules

import (
	"encoding/json"
	"go/ast"
	"go/token"
	"regexp"
	"strings"
	"time"
)

// pragmaLine is the grammar of a pragma: +key or +key=value, nothing else.
var pragmaLine = regexp.MustCompile(`^\+([A-Za-z]+)(?:=(.*))?$`)

var (
	funcOnlyPragmas = []string{"cache", "check", "generate", "up"}
	argOnlyPragmas  = []string{"optional", "default", "defaultPath", "defaultAddress", "ignore"}
	valuePragmas    = []string{"default", "defaultPath", "defaultAddress", "ignore", "cache"}
	flagPragmas     = []string{"optional", "check", "generate", "up", "private"}
)

// pragmaSet maps a pragma key to its raw value ("" for a flag).
type pragmaSet map[string]string

func (p pragmaSet) optional() bool {
	for _, k := range []string{"optional", "default", "defaultPath", "defaultAddress"} {
		if _, ok := p[k]; ok {
			return true
		}
	}
	return false
}

// commentLines returns the text lines of a comment group, without markers.
func commentLines(g *ast.CommentGroup) []string {
	if g == nil {
		return nil
	}
	var out []string
	for _, c := range g.List {
		t := c.Text
		if strings.HasPrefix(t, "//") {
			out = append(out, strings.TrimSpace(t[2:]))
			continue
		}
		for _, l := range strings.Split(strings.TrimSuffix(strings.TrimPrefix(t, "/*"), "*/"), "\n") {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return out
}

// parsePragmas reads the pragmas of comment lines; a JSON value may span
// lines, as the engine allows.
func parsePragmas(lines []string) pragmaSet {
	out := pragmaSet{}
	for i := 0; i < len(lines); i++ {
		m := pragmaLine.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		v := m[2]
		for j := i + 1; v != "" && !json.Valid([]byte(v)) && strings.HasPrefix(v, "[") && j < len(lines); j++ {
			if json.Valid([]byte(v + lines[j])) {
				v += lines[j]
				i = j
				break
			}
			v += lines[j]
		}
		out[m[1]] = v
	}
	return out
}

func funcPragmas(doc *ast.CommentGroup) pragmaSet { return parsePragmas(commentLines(doc)) }

// paramPragmas returns the pragmas of each parameter: the comments between
// the previous parameter and this one, and those trailing its line.
func (c *checker) paramPragmas(f *ast.File, d *ast.FuncDecl) map[int]pragmaSet {
	out := map[int]pragmaSet{}
	prevEnd := d.Type.Params.Opening
	for _, p := range flatParams(d) {
		start, end := p.field.Pos(), p.field.End()
		endLine := c.fset.Position(end).Line
		var lines []string
		for _, g := range f.Comments {
			inGap := g.Pos() > prevEnd && g.End() <= start
			trailing := g.Pos() >= end && c.fset.Position(g.Pos()).Line == endLine
			if inGap || trailing {
				lines = append(lines, commentLines(g)...)
			}
		}
		out[p.index] = parsePragmas(lines)
		prevEnd = end
	}
	return out
}

// checkPragmaSpelling checks every comment line that starts with + in the
// file: a misspelled pragma is ignored by the engine without a word. It also
// checks that function pragmas sit on functions and argument pragmas on
// arguments.
func (c *checker) checkPragmaSpelling(f *ast.File) {
	for _, g := range f.Comments {
		for _, cm := range g.List {
			for _, line := range commentLines(&ast.CommentGroup{List: []*ast.Comment{cm}}) {
				if !strings.HasPrefix(line, "+") {
					continue
				}
				c.checkPragmaLine(cm.Pos(), line)
			}
		}
	}
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok {
			continue
		}
		for k := range funcPragmas(fd.Doc) {
			if contains(argOnlyPragmas, k) {
				c.report(fd.Pos(), "+%s belongs to an argument, not to function %s", k, fd.Name.Name)
			}
		}
		for _, ps := range c.paramPragmas(f, fd) {
			for k := range ps {
				if contains(funcOnlyPragmas, k) {
					c.report(fd.Pos(), "+%s belongs to a function, not to an argument of %s", k, fd.Name.Name)
				}
			}
		}
	}
}

func (c *checker) checkPragmaLine(pos token.Pos, line string) {
	m := pragmaLine.FindStringSubmatch(line)
	if m == nil {
		c.report(pos, "pragma %q is misspelled: write +key or +key=value with no spaces around =", line)
		return
	}
	key, value := m[1], m[2]
	hasValue := strings.Contains(line, "=")
	if !pragmaKeys[key] {
		c.report(pos, "unknown pragma +%s", key)
		return
	}
	if contains(valuePragmas, key) && !hasValue {
		c.report(pos, "pragma +%s needs =value", key)
	}
	if contains(flagPragmas, key) && hasValue {
		c.report(pos, "pragma +%s takes no value", key)
	}
	// JSON values may continue on the next lines (+ignore=[...]); checked per argument.
	if hasValue && (key == "defaultPath" || key == "defaultAddress" || key == "cache" || key == "deprecated") && !isJSONString(value) {
		c.report(pos, "pragma +%s=%s: the value must be a quoted JSON string", key, value)
	}
}

func isJSON(v string) bool { return v != "" && json.Valid([]byte(v)) }

func isJSONString(v string) bool {
	var s string
	return json.Unmarshal([]byte(v), &s) == nil
}

func isJSONStringArray(v string) bool {
	var s []string
	return json.Unmarshal([]byte(v), &s) == nil
}

// parseDuration reads a +cache TTL such as "10m"; the engine allows 1s to 7 days.
func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if d < time.Second || d > 7*24*time.Hour {
		return 0, errOutOfRange
	}
	return d, nil
}

type rangeError struct{}

func (rangeError) Error() string { return "cache TTL must be between 1s and 7 days" }

var errOutOfRange error = rangeError{}
