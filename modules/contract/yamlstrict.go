package contract

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// strictDecoder decodes one YAML document into a struct, refusing unknown
// fields, duplicate keys and values of the wrong shape, and remembers the
// line of every field so that later validation errors can point at it.
//
// yaml.v3's KnownFields reports only the last key of an unknown field; this
// walk over the node tree reports the full dotted path ("build.go.mian") and
// every problem at once instead of the first.
type strictDecoder struct {
	file  string
	lines map[string]int
	errs  []error
	nodes int // nodes visited, to stop alias bombs
}

// maxNodes bounds the nodes a walk visits (aliases count each time they
// are followed); a service.yaml has a few dozen.
const maxNodes = 10000

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// decode parses data into out (a pointer to a struct).
func (d *strictDecoder) decode(data []byte, out any) {
	d.lines = map[string]int{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.errs = append(d.errs, &FieldError{File: d.file, Msg: "file is empty"})
			return
		}
		d.errs = append(d.errs, d.syntaxError(err))
		return
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.errs = append(d.errs, &FieldError{File: d.file, Line: extra.Line, Msg: "file holds more than one YAML document"})
		return
	} else if !errors.Is(err, io.EOF) {
		d.errs = append(d.errs, d.syntaxError(err))
		return
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			d.errs = append(d.errs, &FieldError{File: d.file, Msg: "file is empty"})
			return
		}
		root = root.Content[0]
	}
	if isNull(root) {
		d.errs = append(d.errs, &FieldError{File: d.file, Msg: "file is empty"})
		return
	}
	d.walk(root, reflect.TypeOf(out).Elem(), "")
	if len(d.errs) > 0 {
		return
	}
	if err := root.Decode(out); err != nil {
		// The walk has checked shapes and tags, so what remains is a value
		// that does not fit (an integer overflow, for example).
		d.errs = append(d.errs, d.syntaxError(err))
	}
}

// syntaxError turns a yaml.v3 error into a FieldError, keeping its line.
func (d *strictDecoder) syntaxError(err error) error {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = "yaml: " + te.Errors[0]
	}
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &FieldError{File: d.file, Line: line, Msg: "parsing YAML: " + m[2]}
	}
	return &FieldError{File: d.file, Msg: "parsing YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

func (d *strictDecoder) fail(path string, line int, format string, args ...any) {
	d.errs = append(d.errs, &FieldError{File: d.file, Line: line, Field: path, Msg: fmt.Sprintf(format, args...)})
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return fmt.Sprintf("%q", n.Value)
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// walk checks n against t. A null value stands for "absent" anywhere.
func (d *strictDecoder) walk(n *yaml.Node, t reflect.Type, path string) {
	if d.nodes++; d.nodes == maxNodes {
		d.fail(path, n.Line, "document too large (more than %d values once aliases are expanded)", maxNodes)
	}
	if d.nodes >= maxNodes {
		return
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if isNull(n) {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			d.fail(path, n.Line, "expected a mapping, got %s", describe(n))
			return
		}
		d.walkMapping(n, path, func(key string) (reflect.Type, bool) {
			f, ok := fieldByTag(t, key)
			if !ok {
				return nil, false
			}
			return f.Type, true
		}, func() string { return strings.Join(knownKeys(t), ", ") })
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.fail(path, n.Line, "expected a mapping, got %s", describe(n))
			return
		}
		d.walkMapping(n, path, func(string) (reflect.Type, bool) { return t.Elem(), true }, nil)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(path, n.Line, "expected a list, got %s", describe(n))
			return
		}
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			d.lines[p] = item.Line
			d.walk(item, t.Elem(), p)
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.fail(path, n.Line, "expected a string, got %s", describe(n))
		}
	case reflect.Int:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			d.fail(path, n.Line, "expected an integer, got %s", describe(n))
		}
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			d.fail(path, n.Line, "expected true or false, got %s", describe(n))
		}
	}
}

func (d *strictDecoder) walkMapping(n *yaml.Node, path string, field func(string) (reflect.Type, bool), known func() string) {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.fail(path, k.Line, "expected a plain key, got %s", describe(k))
			continue
		}
		p := joinPath(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			d.fail(p, k.Line, "duplicate key (first at line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		t, ok := field(k.Value)
		if !ok {
			d.fail(p, k.Line, "unknown field (known: %s)", known())
			continue
		}
		d.lines[p] = k.Line
		d.walk(v, t, p)
	}
}

func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if tagName(f) == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func tagName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

func knownKeys(t reflect.Type) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		keys = append(keys, tagName(t.Field(i)))
	}
	sort.Strings(keys)
	return keys
}

// line returns the line of path, or of its nearest parent that has one.
func (d *strictDecoder) line(path string) int {
	for path != "" {
		if l, ok := d.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}
