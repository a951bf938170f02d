// Package param turns the values a person gives to an aws-cli style
// parameter into typed Go values: JSON, the aws-cli shorthand syntax
// (key=value,key2=[a,b],key3={k=v}) and file:// references.
package param

import (
	"fmt"
	"strings"
)

// ParseShorthand parses aws-cli shorthand syntax: comma separated key=value
// pairs where a value is a scalar, a csv list (key=a,b,c), an explicit list
// ([a,b]) or a nested hash ({k=v,k2=v2}). Scalars may be quoted with ' or "
// and a backslash escapes the next character. Every scalar is returned as a
// string; Coerce gives them their types.
func ParseShorthand(s string) (map[string]any, error) {
	p := &parser{s: s}
	m, err := p.hash('\x00')
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.i < len(p.s) {
		return nil, p.errorf("unexpected %q", p.s[p.i])
	}
	return m, nil
}

type parser struct {
	s string
	i int
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("shorthand syntax error at position %d of %q: %s", p.i, p.s, fmt.Sprintf(format, args...))
}

func (p *parser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *parser) skipSpace() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

// hash reads key=value pairs up to end (0 for the end of the input, '}' for
// a nested hash, which the caller consumes).
func (p *parser) hash(end byte) (map[string]any, error) {
	m := map[string]any{}
	for {
		p.skipSpace()
		if p.peek() == end || (end == 0 && p.i >= len(p.s)) {
			if len(m) == 0 && end == 0 {
				return nil, p.errorf("expected key=value")
			}
			return m, nil
		}
		key, err := p.key()
		if err != nil {
			return nil, err
		}
		v, err := p.value(false)
		if err != nil {
			return nil, err
		}
		if _, dup := m[key]; dup {
			return nil, p.errorf("key %q given twice", key)
		}
		m[key] = v
		p.skipSpace()
		switch p.peek() {
		case ',':
			p.i++
		case end:
		default:
			if end == 0 && p.i >= len(p.s) {
				continue
			}
			return nil, p.errorf("expected ',' after the value of %q", key)
		}
	}
}

func isKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '-' || c == '.' || c == '#' || c == '/' || c == ':'
}

func (p *parser) key() (string, error) {
	start := p.i
	for p.i < len(p.s) && isKeyChar(p.s[p.i]) {
		p.i++
	}
	key := p.s[start:p.i]
	p.skipSpace()
	if key == "" || p.peek() != '=' {
		return "", p.errorf("expected key=value")
	}
	p.i++
	return key, nil
}

// nextIsKey reports whether the text after the current ',' starts a new
// key=value pair rather than continuing a csv list.
func (p *parser) nextIsKey() bool {
	j := p.i + 1
	for j < len(p.s) && p.s[j] == ' ' {
		j++
	}
	start := j
	for j < len(p.s) && isKeyChar(p.s[j]) {
		j++
	}
	if j == start {
		return false
	}
	for j < len(p.s) && p.s[j] == ' ' {
		j++
	}
	return j < len(p.s) && p.s[j] == '='
}

// value reads one value. Outside a list, a scalar followed by ",x" where x
// is not a key starts a csv list.
func (p *parser) value(inList bool) (any, error) {
	p.skipSpace()
	switch p.peek() {
	case '[':
		p.i++
		items := []any{}
		for {
			p.skipSpace()
			if p.peek() == ']' {
				p.i++
				return items, nil
			}
			v, err := p.value(true)
			if err != nil {
				return nil, err
			}
			items = append(items, v)
			p.skipSpace()
			switch p.peek() {
			case ',':
				p.i++
			case ']':
			default:
				return nil, p.errorf("expected ',' or ']' in list")
			}
		}
	case '{':
		p.i++
		m, err := p.hash('}')
		if err != nil {
			return nil, err
		}
		if p.peek() != '}' {
			return nil, p.errorf("expected '}'")
		}
		p.i++
		return m, nil
	}
	first, err := p.scalar()
	if err != nil {
		return nil, err
	}
	if inList || p.peek() != ',' || p.nextIsKey() {
		return first, nil
	}
	items := []any{first}
	for p.peek() == ',' && !p.nextIsKey() {
		p.i++
		v, err := p.scalar()
		if err != nil {
			return nil, err
		}
		items = append(items, v)
	}
	return items, nil
}

// scalar reads a quoted or bare string; a bare one ends at , ] or }.
func (p *parser) scalar() (string, error) {
	p.skipSpace()
	if q := p.peek(); q == '"' || q == '\'' {
		p.i++
		var b strings.Builder
		for p.i < len(p.s) {
			c := p.s[p.i]
			switch {
			case c == '\\' && p.i+1 < len(p.s):
				b.WriteByte(p.s[p.i+1])
				p.i += 2
			case c == q:
				p.i++
				p.skipSpace()
				return b.String(), nil
			default:
				b.WriteByte(c)
				p.i++
			}
		}
		return "", p.errorf("unterminated quote")
	}
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == ',' || c == ']' || c == '}' {
			break
		}
		if c == '\\' && p.i+1 < len(p.s) {
			b.WriteByte(p.s[p.i+1])
			p.i += 2
			continue
		}
		b.WriteByte(c)
		p.i++
	}
	return strings.TrimSpace(b.String()), nil
}
