package contract

import (
	"encoding/json"
	"path"
	"regexp"
	"strings"
)

// contextSources lists what a Dockerfile reads from its build context: the
// sources of every COPY and ADD without --from (a stage or an image), and
// the sources of RUN --mount=type=bind mounts without from. Each is a
// cleaned slash path or glob relative to the context; "." stands for the
// whole context.
//
// This is a small reader of the Dockerfile grammar rather than BuildKit's
// parser, which would pull BuildKit's module graph into every user of the
// catalog. It honours the escape directive, line continuations, comments,
// JSON and shell forms, and skips heredoc bodies. Where it cannot know a
// source (a variable such as ${DIR}) it answers "." so that an unknown
// never makes a service look unaffected.
func contextSources(dockerfile []byte) []string {
	var sources []string
	for _, ins := range dockerInstructions(string(dockerfile)) {
		switch ins.cmd {
		case "COPY", "ADD":
			sources = append(sources, copySources(ins)...)
		case "RUN":
			sources = append(sources, bindSources(ins.flags)...)
		}
	}
	return sources
}

type instruction struct {
	cmd   string   // upper case
	flags []string // leading --flags, as written
	rest  string   // the arguments after the flags
}

var (
	escapeDirectiveRE = regexp.MustCompile(`(?i)^#\s*escape\s*=\s*(\S)\s*$`)
	directiveRE       = regexp.MustCompile(`^#\s*[A-Za-z][A-Za-z0-9_-]*\s*=`)
	heredocRE         = regexp.MustCompile(`^<<(-?)(["']?)([A-Za-z_][A-Za-z0-9_]*)(["']?)`)
)

// dockerInstructions splits a Dockerfile into logical instructions.
func dockerInstructions(src string) []instruction {
	lines := strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n")
	escape := `\`
	i := 0
	// Parser directives: only leading "# key=value" comments.
	for ; i < len(lines); i++ {
		if m := escapeDirectiveRE.FindStringSubmatch(strings.TrimSpace(lines[i])); m != nil {
			escape = m[1]
			continue
		}
		if !directiveRE.MatchString(strings.TrimSpace(lines[i])) {
			break
		}
	}
	var out []instruction
	for i < len(lines) {
		trimmed := strings.TrimSpace(lines[i])
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			i++
			continue
		}
		// Join continuation lines; comment and blank lines inside are dropped.
		var b strings.Builder
		for i < len(lines) {
			line := strings.TrimRight(lines[i], " \t")
			i++
			t := strings.TrimSpace(line)
			if b.Len() > 0 && (t == "" || strings.HasPrefix(t, "#")) {
				continue
			}
			if strings.HasSuffix(line, escape) {
				b.WriteString(strings.TrimSuffix(line, escape))
				continue
			}
			b.WriteString(line)
			break
		}
		ins := parseInstruction(b.String())
		// Skip heredoc bodies: each <<WORD consumes lines up to WORD.
		for _, w := range strings.Fields(ins.rest) {
			m := heredocRE.FindStringSubmatch(w)
			if m == nil {
				continue
			}
			for i < len(lines) {
				line := lines[i]
				i++
				if m[1] == "-" {
					line = strings.TrimLeft(line, "\t")
				}
				if line == m[3] {
					break
				}
			}
		}
		out = append(out, ins)
	}
	return out
}

func parseInstruction(line string) instruction {
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return instruction{}
	}
	ins := instruction{cmd: strings.ToUpper(fields[0])}
	rest := strings.TrimSpace(line[strings.Index(line, fields[0])+len(fields[0]):])
	for strings.HasPrefix(rest, "--") {
		flag, after := rest, ""
		if j := strings.IndexAny(rest, " \t"); j >= 0 {
			flag, after = rest[:j], rest[j:]
		}
		ins.flags = append(ins.flags, flag)
		rest = strings.TrimSpace(after)
	}
	ins.rest = rest
	return ins
}

// copySources returns the context sources of a COPY or ADD.
func copySources(ins instruction) []string {
	for _, f := range ins.flags {
		if strings.HasPrefix(f, "--from=") {
			return nil // copies from a stage or an image, not the context
		}
	}
	var args []string
	if strings.HasPrefix(ins.rest, "[") {
		if err := json.Unmarshal([]byte(ins.rest), &args); err != nil {
			args = strings.Fields(ins.rest)
		}
	} else {
		args = strings.Fields(ins.rest)
	}
	if len(args) < 2 {
		return nil
	}
	var out []string
	for _, a := range args[:len(args)-1] {
		a = strings.Trim(a, `"'`)
		switch {
		case strings.HasPrefix(a, "<<"):
			continue // heredoc: inline content
		case ins.cmd == "ADD" && (strings.Contains(a, "://") || strings.HasPrefix(a, "git@")):
			continue // remote source
		}
		out = append(out, cleanSource(a))
	}
	return out
}

// bindSources returns the context sources of RUN --mount=type=bind flags.
func bindSources(flags []string) []string {
	var out []string
	for _, f := range flags {
		v, ok := strings.CutPrefix(f, "--mount=")
		if !ok {
			continue
		}
		typ, src, from := "bind", ".", ""
		for _, kv := range strings.Split(v, ",") {
			k, val, _ := strings.Cut(kv, "=")
			switch strings.ToLower(k) {
			case "type":
				typ = val
			case "source", "src":
				src = val
			case "from":
				from = val
			}
		}
		if typ == "bind" && from == "" {
			out = append(out, cleanSource(src))
		}
	}
	return out
}

// cleanSource makes a source relative to the context root; an unknown
// source (one with a variable) becomes the whole context.
func cleanSource(s string) string {
	if strings.Contains(s, "$") {
		return "."
	}
	s = path.Clean("/" + s)
	if s == "/" {
		return "."
	}
	return s[1:]
}

// sourceMatches reports whether rel (a file path relative to the context)
// is read by source: the source itself, a file under a source folder, or a
// path (or a parent folder of it) that a wildcard source matches.
func sourceMatches(source, rel string) bool {
	if source == "." || rel == source || strings.HasPrefix(rel, source+"/") {
		return true
	}
	if !strings.ContainsAny(source, `*?[\`) {
		return false
	}
	n := strings.Count(source, "/") + 1
	parts := strings.Split(rel, "/")
	if len(parts) < n {
		return false
	}
	ok, err := path.Match(source, strings.Join(parts[:n], "/"))
	return err == nil && ok
}
