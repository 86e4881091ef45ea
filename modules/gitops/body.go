package gitops

import (
	"fmt"
	"slices"
	"strings"
)

func short(d string) string {
	if i := strings.IndexByte(d, ':'); i >= 0 && len(d) > i+13 {
		return d[:i+13] + "…"
	}
	return d
}

func ref(im ImageState) string {
	if im.NewName != "" {
		return im.NewName
	}
	return im.Name
}

func services(s State) []string {
	var out []string
	for _, im := range s.Images {
		if !slices.Contains(out, im.Service) {
			out = append(out, im.Service)
		}
	}
	slices.Sort(out)
	return out
}

// title is the pull request title and commit subject.
func title(s State) string {
	verb := "Promote"
	if s.Rollback {
		verb = "Roll back"
	}
	return fmt.Sprintf("%s %s in %s", verb, strings.Join(services(s), ", "), s.Env)
}

// body renders the pull request body from the state, truncated to limit
// bytes (0: no limit) while keeping the hidden state block whole.
func body(s State, limit int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## %s\n\n", title(s))
	if s.Rollback {
		fmt.Fprintf(&b, "Restores the pins that promotion commit `%s` replaced.\n\n", s.RevertOf)
	}
	b.WriteString("| service | image | tag | old digest | new digest | platforms |\n|---|---|---|---|---|---|\n")
	for _, im := range s.Images {
		fmt.Fprintf(&b, "| %s | `%s` | `%s` | `%s` | `%s` | %s |\n", im.Service, ref(im), im.Tag, short(im.OldDigest), short(im.Digest), strings.Join(im.Platforms, ", "))
	}
	b.WriteString("\n<details><summary>Full digests</summary>\n\n")
	for _, im := range s.Images {
		fmt.Fprintf(&b, "- `%s`: `%s` → `%s`\n", ref(im), orNone(im.OldDigest), im.Digest)
	}
	b.WriteString("\n</details>\n\n### Source\n\n")
	for _, im := range s.Images {
		fmt.Fprintf(&b, "- %s: commit %s", im.Service, link(im.SourceRepo, "commit/"+im.SourceCommit, im.SourceCommit))
		if im.PreviousCommit != "" && im.SourceCommit != "" {
			rng := im.PreviousCommit + ".." + im.SourceCommit
			fmt.Fprintf(&b, ", log range %s", link(im.SourceRepo, "compare/"+im.PreviousCommit+"..."+im.SourceCommit, rng))
		}
		if im.CIRunURL != "" {
			fmt.Fprintf(&b, ", CI run %s", im.CIRunURL)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n### Signatures\n\n")
	for _, im := range s.Images {
		if im.Signer == "" {
			fmt.Fprintf(&b, "- %s: not verified\n", im.Service)
			continue
		}
		fmt.Fprintf(&b, "- %s: signed by `%s`", im.Service, im.Signer)
		if im.Issuer != "" {
			fmt.Fprintf(&b, " (issuer `%s`)", im.Issuer)
		}
		if im.LogEntry != "" {
			fmt.Fprintf(&b, ", transparency log entry %s", im.LogEntry)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n### Supply chain\n\n")
	for _, im := range s.Images {
		fmt.Fprintf(&b, "- %s: SBOM %s, provenance %s\n", im.Service, orNone(im.SBOM), orNone(im.Provenance))
	}
	b.WriteString("\n### Rollback\n\n")
	b.WriteString("Merging this pull request is the deployment; reverting its commit is the rollback. ")
	fmt.Fprintf(&b, "`ferry rollback --env %s --service <service>` opens that revert. It restores:\n\n", s.Env)
	for _, im := range s.Images {
		old := "(no earlier pin)"
		if im.OldDigest != "" {
			old = "`" + strings.Trim(im.OldTag+"@"+im.OldDigest, "@") + "`"
		}
		fmt.Fprintf(&b, "- `%s` → %s\n", ref(im), old)
	}
	human := b.String()
	block := "\n" + s.block() + "\n"
	if limit <= 0 || len(human)+len(block) <= limit {
		return human + block
	}
	// Too long: the commit message keeps the full state; the body keeps as
	// much of it as fits, and says so.
	for _, compact := range []State{compactState(s), {Env: s.Env, Branch: s.Branch, Base: s.Base, Rollback: s.Rollback, RevertOf: s.RevertOf}} {
		compact.Truncated = true
		block = "\n" + compact.block() + "\n"
		if len(block) < limit/2 {
			break
		}
	}
	const note = "\n\n… (truncated to the forge's limit; the branch head's commit message has the full record)\n"
	keep := max(limit-len(block)-len(note), 0)
	for keep > 0 && keep < len(human) && (human[keep]&0xC0) == 0x80 {
		keep-- // do not split a UTF-8 sequence
	}
	return human[:keep] + note + block
}

// compactState keeps what a later run needs to know which pins a pull
// request carries.
func compactState(s State) State {
	c := State{Env: s.Env, Branch: s.Branch, Base: s.Base, Rollback: s.Rollback, RevertOf: s.RevertOf}
	for _, im := range s.Images {
		c.Images = append(c.Images, ImageState{Service: im.Service, Name: im.Name, NewName: im.NewName, Tag: im.Tag, Digest: im.Digest})
	}
	return c
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func link(repo, path, text string) string {
	if text == "" {
		return "unknown"
	}
	if strings.HasPrefix(repo, "https://") {
		return fmt.Sprintf("[`%s`](%s/%s)", text, strings.TrimSuffix(repo, "/"), path)
	}
	return "`" + text + "`"
}
