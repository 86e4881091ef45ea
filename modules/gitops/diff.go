package gitops

import (
	"fmt"
	"strings"
)

// unifiedDiff renders a small unified diff (3 lines of context) of one file.
func unifiedDiff(path string, a, b []byte) string {
	if string(a) == string(b) {
		return ""
	}
	x := strings.SplitAfter(string(a), "\n")
	y := strings.SplitAfter(string(b), "\n")
	if x[len(x)-1] == "" {
		x = x[:len(x)-1]
	}
	if y[len(y)-1] == "" {
		y = y[:len(y)-1]
	}
	// Trim the common prefix and suffix, then LCS the middle.
	pre := 0
	for pre < len(x) && pre < len(y) && x[pre] == y[pre] {
		pre++
	}
	suf := 0
	for suf < len(x)-pre && suf < len(y)-pre && x[len(x)-1-suf] == y[len(y)-1-suf] {
		suf++
	}
	mx, my := x[pre:len(x)-suf], y[pre:len(y)-suf]
	lcs := make([][]int, len(mx)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(my)+1)
	}
	for i := len(mx) - 1; i >= 0; i-- {
		for j := len(my) - 1; j >= 0; j-- {
			if mx[i] == my[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type op struct {
		kind byte
		line string
	}
	var ops []op
	for k := max(0, pre-3); k < pre; k++ {
		ops = append(ops, op{' ', x[k]})
	}
	i, j := 0, 0
	for i < len(mx) || j < len(my) {
		switch {
		case i < len(mx) && j < len(my) && mx[i] == my[j]:
			ops = append(ops, op{' ', mx[i]})
			i++
			j++
		case j < len(my) && (i == len(mx) || lcs[i][j+1] >= lcs[i+1][j]):
			ops = append(ops, op{'+', my[j]})
			j++
		default:
			ops = append(ops, op{'-', mx[i]})
			i++
		}
	}
	for k := len(x) - suf; k < len(x) && k < len(x)-suf+3; k++ {
		ops = append(ops, op{' ', x[k]})
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "--- a/%s\n+++ b/%s\n@@ -%d +%d @@\n", path, path, max(0, pre-3)+1, max(0, pre-3)+1)
	for _, o := range ops {
		line := o.line
		if !strings.HasSuffix(line, "\n") {
			line += "\n\\ No newline at end of file\n"
		}
		sb.WriteByte(o.kind)
		sb.WriteString(line)
	}
	return sb.String()
}
