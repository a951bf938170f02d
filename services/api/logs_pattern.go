package api

import (
	"fmt"
	"strings"
)

// logPattern is a CloudWatch Logs filter pattern for unstructured log
// events, as FilterLogEvents matches it: terms separated by spaces, each a
// word of letters, digits and underscores or a "quoted phrase"; an event
// matches when it contains every term (case-sensitive substrings, "ERROR"
// matches "[ERROR]"), or, when the terms are written ?A ?B, any of them;
// -TERM excludes events containing TERM. The empty pattern matches every
// event. JSON ({ $.x = ... }), space-delimited ([a, b]) and regular
// expression (%...%) patterns are refused by parseLogPattern.
type logPattern struct {
	all  []string // every one must appear
	any  []string // one of them must appear (when any are given)
	none []string // none may appear
}

// parseLogPattern reads a filter pattern; the error names what batchd
// does not support or what is wrong.
func parseLogPattern(p string) (*logPattern, error) {
	lp := &logPattern{}
	s := strings.TrimSpace(p)
	switch {
	case strings.HasPrefix(s, "{"):
		return nil, fmt.Errorf("JSON filter patterns ({ $.field = value }) are not supported by batchd: use terms or \"quoted phrases\"")
	case strings.HasPrefix(s, "["):
		return nil, fmt.Errorf("space-delimited filter patterns ([field, ...]) are not supported by batchd: use terms or \"quoted phrases\"")
	case strings.HasPrefix(s, "%"):
		return nil, fmt.Errorf("regular expression filter patterns (%%...%%) are not supported by batchd: use terms or \"quoted phrases\"")
	}
	for s != "" {
		op := byte(0)
		if s[0] == '?' || s[0] == '-' {
			op, s = s[0], s[1:]
		}
		var term string
		if strings.HasPrefix(s, `"`) {
			var b strings.Builder
			i, closed := 1, false
			for ; i < len(s); i++ {
				c := s[i]
				if c == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
					b.WriteByte(s[i+1])
					i++
					continue
				}
				if c == '"' {
					closed = true
					break
				}
				b.WriteByte(c)
			}
			if !closed {
				return nil, fmt.Errorf("invalid filter pattern %q: a quoted phrase is not closed", p)
			}
			term, s = b.String(), s[i+1:]
			if s != "" && s[0] != ' ' && s[0] != '\t' {
				return nil, fmt.Errorf("invalid filter pattern %q: put a space after a quoted phrase", p)
			}
		} else {
			end := strings.IndexAny(s, " \t")
			if end < 0 {
				end = len(s)
			}
			term, s = s[:end], s[end:]
			if term == "" {
				return nil, fmt.Errorf("invalid filter pattern %q: %q must be followed by a term", p, string(op))
			}
			for _, c := range term {
				if !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
					return nil, fmt.Errorf("invalid filter pattern %q: the term %q has characters other than letters, digits and _; put it in double quotes (\"%s\")", p, term, term)
				}
			}
		}
		switch op {
		case '?':
			lp.any = append(lp.any, term)
		case '-':
			lp.none = append(lp.none, term)
		default:
			lp.all = append(lp.all, term)
		}
		s = strings.TrimLeft(s, " \t")
	}
	if len(lp.any) > 0 && (len(lp.all) > 0 || len(lp.none) > 0) {
		return nil, fmt.Errorf("invalid filter pattern %q: batchd does not support ?TERM (any of) mixed with other terms", p)
	}
	return lp, nil
}

// match reports whether a message matches the pattern.
func (lp *logPattern) match(msg string) bool {
	for _, t := range lp.all {
		if !strings.Contains(msg, t) {
			return false
		}
	}
	for _, t := range lp.none {
		if strings.Contains(msg, t) {
			return false
		}
	}
	if len(lp.any) == 0 {
		return true
	}
	for _, t := range lp.any {
		if strings.Contains(msg, t) {
			return true
		}
	}
	return false
}
