// Package rules checks a Go Dagger module (engine v0.21.x) for the mistakes
// that only an engine would otherwise report, or that it would not report
// at all: types the module analyzer rejects, names the engine or the CLI
// reserves, names the generated dagger.gen.go declares, misspelled pragmas,
// missing +cache="never" on functions with side effects, APIs hidden from
// modules, secrets read in plaintext, and the go.mod and dagger.json settings that break a first run.
//
// It reads source with go/ast only, so it runs with no engine and no
// generated code.
package rules

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Finding is one broken rule at a place in a file.
type Finding struct {
	Pos     string // file:line, or a file name
	Message string
}

func (f Finding) String() string { return f.Pos + ": " + f.Message }

// GeneratedNames are the package-level names of the generated root
// dagger.gen.go; a module that declares one fails to compile in the engine.
var GeneratedNames = []string{
	"dag", "main", "dispatch", "invoke", "ptr", "convertSlice", "setMarshalContext",
	"marshalCtx", "Tracer", "DaggerObject", "ExecError", "convertError", "findSingleGQLError",
}

// GeneratedMethods are the methods the generated code adds to every module
// struct (MarshalJSON, UnmarshalJSON) and enum (all of them).
var GeneratedMethods = []string{"MarshalJSON", "UnmarshalJSON", "IsEnum", "Name", "Value"}

// ReservedConstructorArgs are the argument names that collide with the
// dagger CLI's own flags when a function, above all the constructor, takes them.
var ReservedConstructorArgs = []string{
	"output", "json", "mod", "progress", "debug", "workdir", "silent", "quiet",
	"verbose", "interactive", "web", "cloud", "lock",
}

// SideEffectFunctions must never be served from the function cache: a
// repeat call with equal inputs would return the old result and do nothing.
var SideEffectFunctions = []string{"Push", "Sign", "PromotePR", "Release", "Promote", "Rollback"}

// sideEffectCalls are client calls that change the world outside the engine.
var sideEffectCalls = []string{"Publish", "Export"}

// hiddenCalls are client methods that compile against dagger.io/dagger but
// do not exist in a module's generated client (or in the v0.21 engine).
var hiddenCalls = []string{"Host", "Engine", "SshfsVolume", "WithMountedVolume"}

// libraryOnlyClientCalls are methods of the library's Client that the
// module's dag lacks (its connection belongs to the runtime).
var libraryOnlyClientCalls = []string{"Close", "Do", "GraphQLClient", "QueryBuilder"}

var pragmaKeys = map[string]bool{
	"optional": true, "default": true, "defaultPath": true, "defaultAddress": true,
	"ignore": true, "deprecated": true, "cache": true, "check": true, "generate": true,
	"up": true, "private": true,
}

// CheckDir checks the module's package main: the non-test .go files of dir,
// minus the generated dagger.gen.go. mainObject is the main struct's name
// (Ci for a module named ci).
func CheckDir(dir, mainObject string) ([]Finding, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", dir, err)
	}
	srcs := map[string][]byte{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") || name == "dagger.gen.go" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", name, err)
		}
		srcs[name] = data
	}
	return CheckSources(srcs, mainObject)
}

// CheckSources checks the files of one package, by file name.
func CheckSources(srcs map[string][]byte, mainObject string) ([]Finding, error) {
	c := &checker{fset: token.NewFileSet(), types: map[string]*ast.TypeSpec{}, mainObject: mainObject}
	names := make([]string, 0, len(srcs))
	for n := range srcs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		f, err := parser.ParseFile(c.fset, n, srcs[n], parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("parsing %s: %w", n, err)
		}
		c.files = append(c.files, f)
	}
	c.run()
	sort.SliceStable(c.findings, func(i, j int) bool { return c.findings[i].Pos < c.findings[j].Pos })
	return c.findings, nil
}

type checker struct {
	fset       *token.FileSet
	files      []*ast.File
	types      map[string]*ast.TypeSpec
	mainObject string
	findings   []Finding
	hasNew     bool
}

func (c *checker) report(pos token.Pos, format string, args ...any) {
	p := c.fset.Position(pos)
	c.findings = append(c.findings, Finding{Pos: fmt.Sprintf("%s:%d", p.Filename, p.Line), Message: fmt.Sprintf(format, args...)})
}

func (c *checker) run() {
	for _, f := range c.files {
		if f.Name.Name != "main" {
			c.report(f.Name.Pos(), "package %s: a Go module's code is package main", f.Name.Name)
		}
		for _, d := range f.Decls {
			if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.TYPE {
				for _, s := range g.Specs {
					ts := s.(*ast.TypeSpec)
					c.types[ts.Name.Name] = ts
				}
			}
		}
	}
	for _, f := range c.files {
		c.checkFile(f)
	}
	if ts, ok := c.types[c.mainObject]; !ok {
		c.findings = append(c.findings, Finding{Pos: "package main", Message: fmt.Sprintf("no main object %s: the module's name decides its struct's name", c.mainObject)})
	} else if st, ok := ts.Type.(*ast.StructType); ok {
		for _, fld := range st.Fields.List {
			for _, n := range fld.Names {
				if !n.IsExported() && !jsonSkipped(fld) {
					c.report(n.Pos(), "field %s.%s is unexported: its value is lost between calls (export it, with +private to hide it)", c.mainObject, n.Name)
				}
			}
		}
	}
	if !c.hasNew {
		c.findings = append(c.findings, Finding{Pos: "package main", Message: "no constructor New"})
	}
}

func jsonSkipped(f *ast.Field) bool {
	return f.Tag != nil && strings.Contains(f.Tag.Value, `json:"-"`)
}

func (c *checker) checkFile(f *ast.File) {
	c.checkPragmaSpelling(f)
	c.checkHiddenCalls(f)
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					c.checkGeneratedName(s.Name)
					c.checkTypeDecl(f, s)
				case *ast.ValueSpec:
					for _, n := range s.Names {
						c.checkGeneratedName(n)
					}
				}
			}
		case *ast.FuncDecl:
			c.checkFunc(f, d)
		}
	}
}

func (c *checker) checkGeneratedName(n *ast.Ident) {
	for _, g := range GeneratedNames {
		if n.Name == g {
			c.report(n.Pos(), "%s redeclares a name of the generated dagger.gen.go", n.Name)
		}
	}
}

// checkTypeDecl checks the exported fields of exported structs.
func (c *checker) checkTypeDecl(f *ast.File, ts *ast.TypeSpec) {
	if !ts.Name.IsExported() {
		return
	}
	st, ok := ts.Type.(*ast.StructType)
	if !ok {
		return
	}
	for _, fld := range st.Fields.List {
		if jsonSkipped(fld) {
			continue
		}
		for _, n := range fld.Names {
			if !n.IsExported() {
				continue
			}
			if strings.EqualFold(n.Name, "id") {
				c.report(n.Pos(), "field %s.%s has the reserved name id", ts.Name.Name, n.Name)
			}
			if p := c.typeProblem(f, fld.Type); p != "" {
				c.report(fld.Type.Pos(), "field %s.%s: %s", ts.Name.Name, n.Name, p)
			}
		}
	}
}

// apiFunc reports whether a function is part of the module's API: New, or
// an exported method of an exported type of the package.
func apiFunc(d *ast.FuncDecl) (recv string, ok bool) {
	if d.Recv == nil {
		return "", d.Name.Name == "New"
	}
	t := d.Recv.List[0].Type
	if s, isStar := t.(*ast.StarExpr); isStar {
		t = s.X
	}
	id, isIdent := t.(*ast.Ident)
	if !isIdent {
		return "", false
	}
	return id.Name, id.IsExported() && d.Name.IsExported()
}

func (c *checker) checkFunc(f *ast.File, d *ast.FuncDecl) {
	if d.Recv == nil {
		c.checkGeneratedName(d.Name)
	}
	recv, api := apiFunc(d)
	if d.Recv != nil {
		for _, m := range GeneratedMethods {
			if d.Name.Name == m && c.types[recv] != nil {
				c.report(d.Name.Pos(), "method %s.%s: the generated code declares %s on module types", recv, m, m)
			}
		}
	}
	if !api {
		return
	}
	name := d.Name.Name
	if d.Recv == nil {
		c.hasNew = true
		name = "New"
	} else {
		name = recv + "." + name
		if strings.EqualFold(d.Name.Name, "id") {
			c.report(d.Name.Pos(), "function %s has the reserved name id", name)
		}
	}
	pragmas := funcPragmas(d.Doc)
	params := c.paramPragmas(f, d)
	c.checkParams(f, d, name, params)
	c.checkResults(f, d, name)

	if d.Recv == nil {
		if !returnsMain(d, c.mainObject) {
			c.report(d.Pos(), "New must return *%s or (*%s, error)", c.mainObject, c.mainObject)
		}
		for _, p := range flatParams(d) {
			if contains(ReservedConstructorArgs, p.name) {
				c.report(p.pos, "constructor argument %q collides with a dagger CLI flag", p.name)
			}
		}
		return
	}
	cache, hasCache := pragmas["cache"]
	// An unquoted value is reported by the spelling check already.
	if hasCache && isJSONString(cache) && !validCache(cache) {
		c.report(d.Pos(), "%s: +cache=%s must be \"never\", \"session\" or a quoted duration", name, cache)
	}
	if c.hasSideEffects(d) && (!hasCache || isJSONString(cache) && cache != `"never"` && cache != `"session"`) {
		c.report(d.Pos(), "%s has side effects but no +cache=\"never\": a repeat call would be served from the function cache", name)
	}
	if _, ok := pragmas["check"]; ok {
		for _, p := range flatParams(d) {
			if isContext(p.typ) {
				continue
			}
			if pp := params[p.index]; !pp.optional() {
				c.report(p.pos, "%s is a +check but argument %q is required", name, p.name)
			}
		}
		if !checkResultOK(d) {
			c.report(d.Pos(), "%s is a +check and must return error or (*dagger.Container, error)", name)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func validCache(v string) bool {
	if v == `"never"` || v == `"session"` {
		return true
	}
	if len(v) < 3 || v[0] != '"' || v[len(v)-1] != '"' {
		return false
	}
	_, err := parseDuration(v[1 : len(v)-1])
	return err == nil
}

func (c *checker) hasSideEffects(d *ast.FuncDecl) bool {
	if contains(SideEffectFunctions, d.Name.Name) {
		return true
	}
	found := false
	if d.Body != nil {
		ast.Inspect(d.Body, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok {
				if sel, ok := call.Fun.(*ast.SelectorExpr); ok && contains(sideEffectCalls, sel.Sel.Name) {
					found = true
				}
			}
			return !found
		})
	}
	return found
}

func (c *checker) checkHiddenCalls(f *ast.File) {
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if contains(hiddenCalls, sel.Sel.Name) {
			c.report(sel.Sel.Pos(), "%s is hidden from modules: it compiles against dagger.io/dagger but not in the engine", sel.Sel.Name)
		}
		if sel.Sel.Name == "Plaintext" && len(call.Args) == 1 {
			c.report(sel.Sel.Pos(), "Plaintext reads a secret's value into the module, from where it can reach a command line, a log or a query: bind the secret with WithSecretVariable, WithMountedSecret or WithRegistryAuth")
		}
		if x, ok := sel.X.(*ast.Ident); ok && x.Name == "dag" && contains(libraryOnlyClientCalls, sel.Sel.Name) {
			c.report(sel.Sel.Pos(), "dag.%s exists only in the library's client; a module's dag has no connection to manage", sel.Sel.Name)
		}
		return true
	})
}

type param struct {
	index int
	name  string
	typ   ast.Expr
	pos   token.Pos
	field *ast.Field
}

func flatParams(d *ast.FuncDecl) []param {
	var out []param
	for _, fld := range d.Type.Params.List {
		if len(fld.Names) == 0 {
			out = append(out, param{index: len(out), typ: fld.Type, pos: fld.Pos(), field: fld})
		}
		for _, n := range fld.Names {
			out = append(out, param{index: len(out), name: n.Name, typ: fld.Type, pos: n.Pos(), field: fld})
		}
	}
	return out
}

func isContext(e ast.Expr) bool {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	x, ok := sel.X.(*ast.Ident)
	return ok && x.Name == "context" && sel.Sel.Name == "Context"
}

func (c *checker) checkParams(f *ast.File, d *ast.FuncDecl, name string, pragmas map[int]pragmaSet) {
	ps := flatParams(d)
	for i, p := range ps {
		if isContext(p.typ) {
			if i != 0 {
				c.report(p.pos, "%s: context.Context must be the first argument", name)
			}
			continue
		}
		t := p.typ
		if e, ok := t.(*ast.Ellipsis); ok {
			if i != len(ps)-1 {
				c.report(p.pos, "%s: only the last argument may be variadic", name)
			}
			t = e.Elt
		}
		if prob := c.typeProblem(f, t); prob != "" {
			c.report(p.pos, "%s argument %q: %s", name, p.name, prob)
		}
		pp := pragmas[i]
		if v, ok := pp["defaultPath"]; ok {
			if !isJSONString(v) {
				c.report(p.pos, "%s argument %q: +defaultPath=%s must be a quoted path", name, p.name, v)
			}
			if !daggerPointer(t, "Directory", "File", "GitRepository", "GitRef") {
				c.report(p.pos, "%s argument %q: +defaultPath needs *dagger.Directory, File, GitRepository or GitRef", name, p.name)
			}
		}
		if v, ok := pp["ignore"]; ok {
			if !isJSONStringArray(v) {
				c.report(p.pos, "%s argument %q: +ignore=%s must be a JSON array of strings", name, p.name, v)
			}
			if !daggerPointer(t, "Directory") {
				c.report(p.pos, "%s argument %q: +ignore needs *dagger.Directory", name, p.name)
			}
		}
		if v, ok := pp["default"]; ok && !isJSON(v) {
			c.report(p.pos, "%s argument %q: +default=%s is not a JSON value (quote strings)", name, p.name, v)
		}
		if v, ok := pp["defaultAddress"]; ok && !isJSONString(v) {
			c.report(p.pos, "%s argument %q: +defaultAddress=%s must be a quoted image address", name, p.name, v)
		}
		if _, ok := pp["deprecated"]; ok && !pp.optional() {
			c.report(p.pos, "%s argument %q: a required argument cannot be +deprecated", name, p.name)
		}
	}
}

func daggerPointer(t ast.Expr, names ...string) bool {
	s, ok := t.(*ast.StarExpr)
	if !ok {
		return false
	}
	sel, ok := s.X.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	x, ok := sel.X.(*ast.Ident)
	return ok && x.Name == "dagger" && contains(names, sel.Sel.Name)
}

func (c *checker) checkResults(f *ast.File, d *ast.FuncDecl, name string) {
	if d.Type.Results == nil {
		return
	}
	var rs []ast.Expr
	for _, fld := range d.Type.Results.List {
		n := len(fld.Names)
		if n == 0 {
			n = 1
		}
		for range n {
			rs = append(rs, fld.Type)
		}
	}
	if len(rs) > 2 {
		c.report(d.Pos(), "%s has %d results: return T, (T, error), error or nothing", name, len(rs))
		return
	}
	if len(rs) == 2 && !isError(rs[1]) {
		c.report(d.Pos(), "%s: a second result must be error", name)
	}
	if len(rs) >= 1 && !(len(rs) == 1 && isError(rs[0])) {
		if prob := c.typeProblem(f, rs[0]); prob != "" && d.Recv != nil {
			c.report(d.Pos(), "%s result: %s", name, prob)
		}
	}
}

func isError(e ast.Expr) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == "error"
}

func returnsMain(d *ast.FuncDecl, main string) bool {
	if d.Type.Results == nil {
		return false
	}
	l := d.Type.Results.List
	if len(l) == 0 || len(l) > 2 || (len(l) == 2 && !isError(l[1].Type)) {
		return false
	}
	s, ok := l[0].Type.(*ast.StarExpr)
	if !ok {
		return false
	}
	id, ok := s.X.(*ast.Ident)
	return ok && id.Name == main
}

func checkResultOK(d *ast.FuncDecl) bool {
	if d.Type.Results == nil {
		return false
	}
	l := d.Type.Results.List
	switch len(l) {
	case 1:
		return isError(l[0].Type) || daggerPointer(l[0].Type, "Container")
	case 2:
		return daggerPointer(l[0].Type, "Container") && isError(l[1].Type)
	}
	return false
}

var okBasic = []string{"string", "bool", "int", "int8", "int16", "int32", "int64", "float32", "float64"}

// typeProblem says why the module analyzer would reject t, or "".
func (c *checker) typeProblem(f *ast.File, t ast.Expr) string {
	switch t := t.(type) {
	case *ast.Ident:
		if contains(okBasic, t.Name) {
			return ""
		}
		switch t.Name {
		case "uint", "uint8", "uint16", "uint32", "uint64", "uintptr", "byte", "complex64", "complex128", "rune":
			return "unsupported basic type " + t.Name
		case "any", "error":
			return "unsupported type " + t.Name
		}
		ts, ok := c.types[t.Name]
		if !ok {
			return "unknown type " + t.Name
		}
		if !t.IsExported() {
			return "cannot code-generate unexported type " + t.Name
		}
		if it, ok := ts.Type.(*ast.InterfaceType); ok && !embedsDaggerObject(it) {
			return "interface " + t.Name + " must embed DaggerObject"
		}
		if ts.Assign.IsValid() {
			return "cannot code-generate alias " + t.Name
		}
		return ""
	case *ast.StarExpr:
		return c.typeProblem(f, t.X)
	case *ast.SelectorExpr:
		x, ok := t.X.(*ast.Ident)
		if ok && x.Name == "dagger" && t.Sel.IsExported() {
			return ""
		}
		return fmt.Sprintf("cannot code-generate for foreign type %s.%s", exprString(t.X), t.Sel.Name)
	case *ast.ArrayType:
		if t.Len != nil {
			return "arrays are unsupported; use a slice"
		}
		if id, ok := t.Elt.(*ast.Ident); ok && id.Name == "byte" {
			return "unsupported type []byte"
		}
		return c.typeProblem(f, t.Elt)
	case *ast.MapType:
		return "unsupported type map (use a list of named structs)"
	case *ast.StructType:
		return "struct types must be named"
	case *ast.InterfaceType:
		return "unsupported anonymous interface"
	case *ast.FuncType:
		return "unsupported type func"
	case *ast.ChanType:
		return "unsupported type chan"
	}
	return fmt.Sprintf("unsupported type %T", t)
}

func embedsDaggerObject(it *ast.InterfaceType) bool {
	for _, m := range it.Methods.List {
		if id, ok := m.Type.(*ast.Ident); ok && len(m.Names) == 0 && id.Name == "DaggerObject" {
			return true
		}
	}
	return false
}

func exprString(e ast.Expr) string {
	if id, ok := e.(*ast.Ident); ok {
		return id.Name
	}
	return fmt.Sprintf("%T", e)
}
