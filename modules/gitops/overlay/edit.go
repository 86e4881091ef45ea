package overlay

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Sentinel errors for the edits SetImages refuses. Each is terminal: the
// input must change before a retry can succeed.
var (
	ErrSyntax           = errors.New("kustomization is not valid YAML")
	ErrNotKustomization = errors.New("kustomization must hold one YAML mapping")
	ErrAnchor           = errors.New("anchors and aliases among images are not supported")
	ErrDuplicate        = errors.New("duplicate image name")
	ErrFlowStyle        = errors.New("flow-style images are not supported")
	ErrUnsupportedValue = errors.New("unsupported value form")
	ErrTagWithoutDigest = errors.New("tag without digest where digests are required")
	ErrInvalidImage     = errors.New("invalid image")
)

// Image is the wanted state of one `images:` entry, matched by Name. Empty
// NewName or NewTag leave those fields as they are; Digest is required unless
// AllowTagOnlyUnsafe is given.
type Image struct {
	Name    string `json:"name"`
	NewName string `json:"newName,omitempty"`
	NewTag  string `json:"newTag,omitempty"`
	Digest  string `json:"digest,omitempty"`
}

// Ref is the image reference kustomize renders for the entry.
func (i Image) Ref() string {
	s := i.Name
	if i.NewName != "" {
		s = i.NewName
	}
	if i.NewTag != "" {
		s += ":" + i.NewTag
	}
	if i.Digest != "" {
		s += "@" + i.Digest
	}
	return s
}

// Change is one value written by SetImages. Old is empty and Inserted true for
// a key or entry that did not exist.
type Change struct {
	Name     string `json:"name"`
	Field    string `json:"field"`
	Old      string `json:"old,omitempty"`
	New      string `json:"new"`
	Inserted bool   `json:"inserted,omitempty"`
}

// Result is the outcome of SetImages.
type Result struct {
	// Content is the edited file; equal to the input when nothing changed.
	Content []byte
	// Changes lists every value written, in request order.
	Changes []Change
	// Previous holds, per requested name, the entry before the edit (absent
	// for a name that had no entry).
	Previous map[string]Image
}

// Option tunes SetImages.
type Option func(*options)

type options struct {
	requireDigest bool
}

// AllowTagOnlyUnsafe accepts images without a digest (a mutable tag). By
// default every image must carry a digest (IMAGE_IMMUTABILITY).
func AllowTagOnlyUnsafe() Option { return func(o *options) { o.requireDigest = false } }

var (
	digestRE = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
	tagRE    = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	nameRE   = regexp.MustCompile(`^[a-z0-9]+([._/:-][a-z0-9]+)*$`)
)

// Validate checks the image's fields for the forms kustomize accepts.
func (i Image) Validate(requireDigest bool) error {
	switch {
	case i.Name == "" || !nameRE.MatchString(i.Name):
		return fmt.Errorf("%w: name %q", ErrInvalidImage, i.Name)
	case i.NewName != "" && !nameRE.MatchString(i.NewName):
		return fmt.Errorf("%w: newName %q of %q", ErrInvalidImage, i.NewName, i.Name)
	case i.NewTag != "" && !tagRE.MatchString(i.NewTag):
		return fmt.Errorf("%w: newTag %q of %q", ErrInvalidImage, i.NewTag, i.Name)
	case i.Digest != "" && !digestRE.MatchString(i.Digest):
		return fmt.Errorf("%w: digest %q of %q (want sha256:<64 hex>)", ErrInvalidImage, i.Digest, i.Name)
	case requireDigest && i.Digest == "" && i.NewTag != "":
		return fmt.Errorf("%w: %q sets newTag %q", ErrTagWithoutDigest, i.Name, i.NewTag)
	case requireDigest && i.Digest == "":
		return fmt.Errorf("%w: %q has no digest", ErrTagWithoutDigest, i.Name)
	}
	return nil
}

// fieldOrder is kustomize's own order, used for keys a neighbour lacks.
var fieldOrder = []string{"name", "newName", "newTag", "digest"}

func (i Image) field(k string) string {
	switch k {
	case "name":
		return i.Name
	case "newName":
		return i.NewName
	case "newTag":
		return i.NewTag
	case "digest":
		return i.Digest
	}
	return ""
}

// splice replaces src[off:off+n] with text.
type splice struct {
	off, n int
	text   string
}

// entry is one parsed `images:` item.
type entry struct {
	node     *yaml.Node
	keys     map[string]*yaml.Node // key name -> value node
	keyNodes []*yaml.Node
	lastLine int
	image    Image
}

// file is a parsed kustomization with the positions SetImages needs.
type file struct {
	src        []byte
	lineStarts []int
	eol        string
	root       *yaml.Node
	imagesKey  *yaml.Node
	images     *yaml.Node // sequence, or nil
	entries    []*entry
}

// Images returns the `images:` entries of a kustomization, in file order.
func Images(src []byte) ([]Image, error) {
	f, err := parse(src)
	if err != nil {
		return nil, err
	}
	out := make([]Image, 0, len(f.entries))
	for _, e := range f.entries {
		out = append(out, e.image)
	}
	return out, nil
}

// SetImages sets the given images in a kustomization's `images:` list,
// changing only the bytes of the values that change. Existing entries keep
// their key order, quoting, comments and indentation; a missing key is added
// under the entry's other keys; a new entry is appended in the style of its
// neighbours. It refuses anchors, aliases, flow style, duplicate names and
// (by default) images without digests.
func SetImages(src []byte, images []Image, opts ...Option) (*Result, error) {
	o := options{requireDigest: true}
	for _, opt := range opts {
		opt(&o)
	}
	seen := map[string]bool{}
	for _, img := range images {
		if err := img.Validate(o.requireDigest); err != nil {
			return nil, err
		}
		if seen[img.Name] {
			return nil, fmt.Errorf("%w %q in request", ErrDuplicate, img.Name)
		}
		seen[img.Name] = true
	}
	f, err := parse(src)
	if err != nil {
		return nil, err
	}
	res := &Result{Previous: map[string]Image{}}
	var splices []splice
	var appended []Image
	for _, img := range images {
		e := f.find(img.Name)
		if e == nil {
			appended = append(appended, img)
			for _, k := range fieldOrder {
				if v := img.field(k); v != "" {
					res.Changes = append(res.Changes, Change{Name: img.Name, Field: k, New: v, Inserted: true})
				}
			}
			continue
		}
		res.Previous[img.Name] = e.image
		var inserts []string
		for _, k := range fieldOrder[1:] {
			want := img.field(k)
			if want == "" {
				continue
			}
			v, ok := e.keys[k]
			if ok && v.Value == want {
				continue
			}
			if !ok {
				inserts = append(inserts, k)
				res.Changes = append(res.Changes, Change{Name: img.Name, Field: k, New: want, Inserted: true})
				continue
			}
			sp, err := f.valueSplice(v, want)
			if err != nil {
				return nil, fmt.Errorf("setting %s of image %q (line %d): %w", k, img.Name, v.Line, err)
			}
			splices = append(splices, sp)
			res.Changes = append(res.Changes, Change{Name: img.Name, Field: k, Old: v.Value, New: want})
		}
		if len(inserts) > 0 {
			splices = append(splices, f.insertKeys(e, img, inserts))
		}
	}
	if len(appended) > 0 {
		sp, err := f.appendEntries(appended)
		if err != nil {
			return nil, err
		}
		splices = append(splices, sp)
	}
	res.Content = apply(src, splices)
	return res, nil
}

func apply(src []byte, splices []splice) []byte {
	if len(splices) == 0 {
		return bytes.Clone(src)
	}
	// Sort by offset (insertion order kept for equal offsets).
	for i := 1; i < len(splices); i++ {
		for j := i; j > 0 && splices[j].off < splices[j-1].off; j-- {
			splices[j], splices[j-1] = splices[j-1], splices[j]
		}
	}
	var b bytes.Buffer
	b.Grow(len(src) + 256)
	prev := 0
	for _, s := range splices {
		b.Write(src[prev:s.off])
		b.WriteString(s.text)
		prev = s.off + s.n
	}
	b.Write(src[prev:])
	return b.Bytes()
}

func parse(src []byte) (*file, error) {
	f := &file{src: src, eol: "\n", lineStarts: []int{0}}
	for i, c := range src {
		if c == '\n' {
			f.lineStarts = append(f.lineStarts, i+1)
		}
	}
	if i := bytes.IndexByte(src, '\n'); i > 0 && src[i-1] == '\r' {
		f.eol = "\r\n"
	}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrSyntax, err)
		}
		docs = append(docs, &n)
	}
	if len(docs) != 1 || len(docs[0].Content) != 1 || docs[0].Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%w (found %d documents)", ErrNotKustomization, len(docs))
	}
	f.root = docs[0].Content[0]
	if f.root.Style&yaml.FlowStyle != 0 {
		return nil, fmt.Errorf("%w: the kustomization is a flow mapping", ErrFlowStyle)
	}
	for i := 0; i+1 < len(f.root.Content); i += 2 {
		if f.root.Content[i].Value == "images" {
			if f.imagesKey != nil {
				return nil, fmt.Errorf("%w: images: appears twice (line %d)", ErrDuplicate, f.root.Content[i].Line)
			}
			f.imagesKey, f.images = f.root.Content[i], f.root.Content[i+1]
		}
	}
	if f.images == nil {
		return f, nil
	}
	if f.images.Kind == yaml.AliasNode || f.images.Anchor != "" {
		return nil, fmt.Errorf("%w (images: on line %d)", ErrAnchor, f.imagesKey.Line)
	}
	switch {
	case f.images.Kind == yaml.ScalarNode && f.images.Tag == "!!null" && f.images.Value == "":
		f.images = nil // `images:` with nothing under it
		return f, nil
	case f.images.Kind != yaml.SequenceNode:
		return nil, fmt.Errorf("%w: images: on line %d is not a list", ErrUnsupportedValue, f.imagesKey.Line)
	case f.images.Style&yaml.FlowStyle != 0:
		return nil, fmt.Errorf("%w (images: on line %d)", ErrFlowStyle, f.imagesKey.Line)
	}
	names := map[string]int{}
	for _, item := range f.images.Content {
		if err := checkNoAnchors(item); err != nil {
			return nil, err
		}
		if item.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%w: images entry on line %d is not a mapping", ErrUnsupportedValue, item.Line)
		}
		if item.Style&yaml.FlowStyle != 0 {
			return nil, fmt.Errorf("%w (images entry on line %d)", ErrFlowStyle, item.Line)
		}
		e := &entry{node: item, keys: map[string]*yaml.Node{}, lastLine: lastLine(item)}
		for i := 0; i+1 < len(item.Content); i += 2 {
			k, v := item.Content[i], item.Content[i+1]
			e.keyNodes = append(e.keyNodes, k)
			if _, dup := e.keys[k.Value]; dup {
				return nil, fmt.Errorf("%w: key %q twice in images entry on line %d", ErrDuplicate, k.Value, item.Line)
			}
			e.keys[k.Value] = v
			if v.Kind == yaml.ScalarNode && (v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0) {
				return nil, fmt.Errorf("%w: block scalar for %s on line %d", ErrUnsupportedValue, k.Value, v.Line)
			}
		}
		for _, k := range fieldOrder {
			if v, ok := e.keys[k]; ok {
				if v.Kind != yaml.ScalarNode {
					return nil, fmt.Errorf("%w: %s on line %d is not a scalar", ErrUnsupportedValue, k, v.Line)
				}
				switch k {
				case "name":
					e.image.Name = v.Value
				case "newName":
					e.image.NewName = v.Value
				case "newTag":
					e.image.NewTag = v.Value
				case "digest":
					e.image.Digest = v.Value
				}
			}
		}
		if e.image.Name == "" {
			return nil, fmt.Errorf("%w: images entry on line %d has no name", ErrUnsupportedValue, item.Line)
		}
		if first, dup := names[e.image.Name]; dup {
			return nil, fmt.Errorf("%w %q (lines %d and %d)", ErrDuplicate, e.image.Name, first, item.Line)
		}
		names[e.image.Name] = item.Line
		f.entries = append(f.entries, e)
	}
	return f, nil
}

func checkNoAnchors(n *yaml.Node) error {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return fmt.Errorf("%w (line %d)", ErrAnchor, n.Line)
	}
	for _, c := range n.Content {
		if err := checkNoAnchors(c); err != nil {
			return err
		}
	}
	return nil
}

func lastLine(n *yaml.Node) int {
	l := n.Line
	for _, c := range n.Content {
		if cl := lastLine(c); cl > l {
			l = cl
		}
	}
	return l
}

func (f *file) find(name string) *entry {
	for _, e := range f.entries {
		if e.image.Name == name {
			return e
		}
	}
	return nil
}

// offset converts a yaml.v3 line and column (1-based, counted in
// characters) into a byte offset.
func (f *file) offset(line, col int) int {
	off := f.lineStarts[line-1]
	for c := 1; c < col && off < len(f.src); c++ {
		_, w := utf8.DecodeRune(f.src[off:])
		off += w
	}
	return off
}

// lineEnd is the offset of the line terminator of the given line (before a
// CR of a CRLF), or the end of the file for a last line without one.
func (f *file) lineEnd(line int) int {
	if line >= len(f.lineStarts) {
		return len(f.src)
	}
	end := f.lineStarts[line] - 1
	if end > f.lineStarts[line-1] && f.src[end-1] == '\r' {
		end--
	}
	return end
}

// span finds the bytes of a single-line scalar value.
func (f *file) span(v *yaml.Node) (int, int, error) {
	start := f.offset(v.Line, v.Column)
	src := f.src
	i := start
	switch {
	case v.Style&yaml.DoubleQuotedStyle != 0:
		for i = start + 1; i < len(src) && src[i] != '"'; i++ {
			if src[i] == '\\' {
				i++
			} else if src[i] == '\n' {
				return 0, 0, fmt.Errorf("%w: multi-line quoted scalar", ErrUnsupportedValue)
			}
		}
		i++
	case v.Style&yaml.SingleQuotedStyle != 0:
		for i = start + 1; i < len(src); i++ {
			if src[i] == '\n' {
				return 0, 0, fmt.Errorf("%w: multi-line quoted scalar", ErrUnsupportedValue)
			}
			if src[i] == '\'' {
				if i+1 < len(src) && src[i+1] == '\'' {
					i++
					continue
				}
				break
			}
		}
		i++
	case v.Style == 0 || v.Style == yaml.TaggedStyle:
		for i < len(src) && src[i] != '\n' && src[i] != '\r' && !(src[i] == '#' && i > start && (src[i-1] == ' ' || src[i-1] == '\t')) {
			i++
		}
		for i > start && (src[i-1] == ' ' || src[i-1] == '\t') {
			i--
		}
	default:
		return 0, 0, fmt.Errorf("%w: block scalar", ErrUnsupportedValue)
	}
	if i > len(src) {
		return 0, 0, fmt.Errorf("%w: unterminated scalar", ErrUnsupportedValue)
	}
	// The bytes must decode back to the node's value, or the span is wrong
	// (a tag, a multi-line plain scalar): refuse rather than guess.
	var got string
	if err := yaml.Unmarshal(src[start:i], &got); err != nil || got != v.Value {
		return 0, 0, fmt.Errorf("%w: value %q is not a single-line scalar", ErrUnsupportedValue, v.Value)
	}
	return start, i, nil
}

func (f *file) valueSplice(v *yaml.Node, want string) (splice, error) {
	start, end, err := f.span(v)
	if err != nil {
		return splice{}, err
	}
	return splice{off: start, n: end - start, text: encode(want, v.Style)}, nil
}

// encode writes a scalar in the given style, falling back to double quotes
// when a plain scalar would not read back as the same string.
func encode(v string, style yaml.Style) string {
	switch {
	case style&yaml.SingleQuotedStyle != 0:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	case style&yaml.DoubleQuotedStyle != 0:
		return strconv.Quote(v)
	}
	out, err := yaml.Marshal(v)
	if err == nil && strings.TrimSuffix(string(out), "\n") == v {
		return v
	}
	return strconv.Quote(v)
}

// styleFor returns the quoting style used for key k by the nearest entry
// that has it (searching from the end), or plain.
func (f *file) styleFor(k string) yaml.Style {
	for i := len(f.entries) - 1; i >= 0; i-- {
		if v, ok := f.entries[i].keys[k]; ok {
			return v.Style & (yaml.SingleQuotedStyle | yaml.DoubleQuotedStyle)
		}
	}
	return 0
}

func (f *file) insertKeys(e *entry, img Image, keys []string) splice {
	indent := strings.Repeat(" ", e.keyNodes[0].Column-1)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(f.eol + indent + k + ": " + encode(img.field(k), f.styleFor(k)))
	}
	return splice{off: f.lineEnd(e.lastLine), text: b.String()}
}

// appendEntries adds new entries after the last one, copying its dash
// indentation and key order; with no list yet it adds `images:` at the end.
func (f *file) appendEntries(imgs []Image) (splice, error) {
	dashCol, keyCol := 0, 2 // kustomize's own style
	order := fieldOrder
	if n := len(f.entries); n > 0 {
		last := f.entries[n-1]
		keyCol = last.keyNodes[0].Column - 1
		start := f.offset(last.keyNodes[0].Line, 1)
		line := f.src[start:f.offset(last.keyNodes[0].Line, last.keyNodes[0].Column)]
		d := bytes.LastIndexByte(line, '-')
		if d < 0 {
			return splice{}, fmt.Errorf("%w: cannot find the dash of the images entry on line %d", ErrUnsupportedValue, last.node.Line)
		}
		dashCol = utf8.RuneCount(line[:d])
		order = nil
		for _, k := range last.keyNodes {
			if k.Value == "name" || k.Value == "newName" || k.Value == "newTag" || k.Value == "digest" {
				order = append(order, k.Value)
			}
		}
		for _, k := range fieldOrder {
			if _, ok := last.keys[k]; !ok {
				order = append(order, k)
			}
		}
	} else if d, ok := f.seqIndent(); ok {
		dashCol, keyCol = d, d+2
	}
	var b strings.Builder
	for _, img := range imgs {
		first := true
		for _, k := range order {
			v := img.field(k)
			if v == "" {
				continue
			}
			b.WriteString(f.eol)
			if first {
				b.WriteString(strings.Repeat(" ", dashCol) + "-" + strings.Repeat(" ", keyCol-dashCol-1))
				first = false
			} else {
				b.WriteString(strings.Repeat(" ", keyCol))
			}
			b.WriteString(k + ": " + encode(v, f.styleFor(k)))
		}
	}
	switch {
	case len(f.entries) > 0:
		return splice{off: f.lineEnd(f.entries[len(f.entries)-1].lastLine), text: b.String()}, nil
	case f.imagesKey != nil: // `images:` with no value
		return splice{off: f.lineEnd(f.imagesKey.Line), text: b.String()}, nil
	}
	text := "images:" + b.String() + f.eol
	if len(f.src) > 0 && f.src[len(f.src)-1] != '\n' {
		text = f.eol + text
	}
	return splice{off: len(f.src), text: text}, nil
}

// seqIndent reports how far the file indents the dash of a top-level block
// sequence from its key, so a new `images:` list matches `resources:`.
func (f *file) seqIndent() (int, bool) {
	for i := 0; i+1 < len(f.root.Content); i += 2 {
		k, v := f.root.Content[i], f.root.Content[i+1]
		if v.Kind != yaml.SequenceNode || v.Style&yaml.FlowStyle != 0 || len(v.Content) == 0 {
			continue
		}
		item := v.Content[0]
		line := f.src[f.offset(item.Line, 1):f.offset(item.Line, item.Column)]
		if d := bytes.LastIndexByte(line, '-'); d >= 0 {
			return utf8.RuneCount(line[:d]) - (k.Column - 1), true
		}
	}
	return 0, false
}
