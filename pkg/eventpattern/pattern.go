// Package eventpattern compiles and matches EventBridge event patterns:
// the notifier matches events with them and the api validates the
// patterns of notification rules with the same grammar.
package eventpattern

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"sort"
	"strings"
)

// EventBridge event patterns, the subset batchd supports (documented in
// docs/events.md):
//
//   - a pattern is a JSON object; every key it names must match (AND);
//     a key's value is an object (the fields of a nested object) or a
//     non-empty array of matchers, any of which may match (OR);
//   - "$or": [pattern, pattern, ...] at any object level: any may match;
//   - matchers: a string, number, boolean or null (equal to the value);
//     {"prefix": s}, {"suffix": s} (either with {"equals-ignore-case": s}
//     inside), {"equals-ignore-case": s}, {"wildcard": s} (* matches any
//     run of characters, \* a star), {"anything-but": v | [v...] |
//     {"prefix": s} | {"suffix": s} | {"equals-ignore-case": s|[s...]} |
//     {"wildcard": s|[s...]}}, {"numeric": [op, n, op, n]} (ops =, <, <=,
//     >, >=), {"exists": true|false}, {"cidr": "10.0.0.0/8"};
//   - when the event's value is an array, the matcher matches if it
//     matches any element, and an object pattern applies to each object
//     of an array (detail.attempts.container.exitCode); a field missing from the event matches only
//     {"exists": false}; numbers are equal when their values are.

// Pattern is a compiled event pattern.
type Pattern struct {
	root *object
}

type object struct {
	fields []field
	ors    [][]*object // each $or: any of its alternatives
}

type field struct {
	name     string
	nested   *object   // the value is an object pattern
	matchers []matcher // or a list of matchers
}

type matcher interface {
	// match reports whether v (present) matches.
	match(v any) bool
	// matchMissing reports whether a missing field matches.
	matchMissing() bool
}

// Compile parses an EventBridge event pattern (a JSON object given
// as a string, as EventBridge takes it). Errors name the field and say
// what is allowed.
func Compile(text string) (*Pattern, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("the event pattern is not valid JSON: %v", err)
	}
	if dec.More() {
		return nil, errors.New("the event pattern has data after its JSON object")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("the event pattern must be a JSON object, for example {\"detail-type\": [\"Batch Job State Change\"]}")
	}
	if len(m) == 0 {
		return nil, errors.New("the event pattern is empty: name at least one field, for example {\"source\": [\"aws.batch\"]}")
	}
	root, err := compileObject("", m)
	if err != nil {
		return nil, err
	}
	return &Pattern{root: root}, nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func compileObject(path string, m map[string]any) (*object, error) {
	o := &object{}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := join(path, k)
		v := m[k]
		if k == "$or" {
			list, ok := v.([]any)
			if !ok || len(list) < 2 {
				return nil, fmt.Errorf("%s: $or takes a list of at least two patterns", p)
			}
			var alts []*object
			for i, a := range list {
				am, ok := a.(map[string]any)
				if !ok || len(am) == 0 {
					return nil, fmt.Errorf("%s[%d]: each $or alternative must be a non-empty JSON object", p, i)
				}
				ao, err := compileObject(path, am)
				if err != nil {
					return nil, err
				}
				alts = append(alts, ao)
			}
			o.ors = append(o.ors, alts)
			continue
		}
		switch v := v.(type) {
		case map[string]any:
			if len(v) == 0 {
				return nil, fmt.Errorf("%s: an empty object matches nothing: name fields inside it or remove it", p)
			}
			n, err := compileObject(p, v)
			if err != nil {
				return nil, err
			}
			o.fields = append(o.fields, field{name: k, nested: n})
		case []any:
			if len(v) == 0 {
				return nil, fmt.Errorf("%s: an empty list matches nothing: list at least one value", p)
			}
			f := field{name: k}
			for i, e := range v {
				mt, err := compileMatcher(fmt.Sprintf("%s[%d]", p, i), e)
				if err != nil {
					return nil, err
				}
				f.matchers = append(f.matchers, mt)
			}
			o.fields = append(o.fields, f)
		default:
			return nil, fmt.Errorf("%s: the value must be a list of matchers (for example [\"FAILED\"]) or an object, not %s", p, jsonKind(v))
		}
	}
	return o, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	}
	return "an object"
}

func compileMatcher(path string, e any) (matcher, error) {
	switch e := e.(type) {
	case nil, string, bool:
		return equal{e}, nil
	case json.Number:
		f, err := e.Float64()
		if err != nil {
			return nil, fmt.Errorf("%s: bad number %s", path, e)
		}
		return equal{f}, nil
	case []any:
		return nil, fmt.Errorf("%s: a list inside a list is not a matcher", path)
	}
	m := e.(map[string]any)
	if len(m) != 1 {
		return nil, fmt.Errorf("%s: a matcher object has exactly one key (prefix, suffix, anything-but, numeric, exists, equals-ignore-case, wildcard, cidr)", path)
	}
	for k, v := range m {
		p := path + "." + k
		switch k {
		case "prefix", "suffix":
			return compileAffix(p, k == "prefix", v)
		case "equals-ignore-case":
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("%s: takes a string", p)
			}
			return ignoreCase{s}, nil
		case "wildcard":
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("%s: takes a string", p)
			}
			return compileWildcard(p, s)
		case "exists":
			b, ok := v.(bool)
			if !ok {
				return nil, fmt.Errorf("%s: takes true or false", p)
			}
			return exists{b}, nil
		case "numeric":
			return compileNumeric(p, v)
		case "cidr":
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("%s: takes a string such as \"10.0.0.0/24\"", p)
			}
			pf, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, fmt.Errorf("%s: %q is not a CIDR block: %v", p, s, err)
			}
			return cidr{pf.Masked()}, nil
		case "anything-but":
			return compileAnythingBut(p, v)
		}
		return nil, fmt.Errorf("%s: unknown matcher %q: use prefix, suffix, anything-but, numeric, exists, equals-ignore-case, wildcard or cidr", path, k)
	}
	panic("unreachable")
}

func compileAffix(p string, prefix bool, v any) (matcher, error) {
	switch v := v.(type) {
	case string:
		return affix{s: v, prefix: prefix}, nil
	case map[string]any:
		if s, ok := v["equals-ignore-case"].(string); ok && len(v) == 1 {
			return affix{s: strings.ToLower(s), prefix: prefix, fold: true}, nil
		}
	}
	return nil, fmt.Errorf("%s: takes a string or {\"equals-ignore-case\": string}", p)
}

func compileNumeric(p string, v any) (matcher, error) {
	list, ok := v.([]any)
	if !ok || (len(list) != 2 && len(list) != 4) {
		return nil, fmt.Errorf("%s: takes [op, number] or [op, number, op, number] with op one of =, <, <=, >, >=", p)
	}
	var n numeric
	for i := 0; i < len(list); i += 2 {
		op, ok := list[i].(string)
		if !ok || !slices.Contains([]string{"=", "<", "<=", ">", ">="}, op) {
			return nil, fmt.Errorf("%s[%d]: %v is not one of =, <, <=, >, >=", p, i, list[i])
		}
		num, ok := list[i+1].(json.Number)
		if !ok {
			return nil, fmt.Errorf("%s[%d]: %s takes a number", p, i+1, op)
		}
		f, err := num.Float64()
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: bad number %s", p, i+1, num)
		}
		n.ops = append(n.ops, numOp{op, f})
	}
	return n, nil
}

func compileAnythingBut(p string, v any) (matcher, error) {
	switch v := v.(type) {
	case string, bool, nil:
		return anythingBut{not: []matcher{equal{v}}}, nil
	case json.Number:
		m, err := compileMatcher(p, v)
		if err != nil {
			return nil, err
		}
		return anythingBut{not: []matcher{m}}, nil
	case []any:
		if len(v) == 0 {
			return nil, fmt.Errorf("%s: takes at least one value", p)
		}
		ab := anythingBut{}
		for i, e := range v {
			switch e.(type) {
			case string, json.Number, bool, nil:
			default:
				return nil, fmt.Errorf("%s[%d]: a list of anything-but takes strings, numbers or booleans", p, i)
			}
			m, _ := compileMatcher(p, e)
			ab.not = append(ab.not, m)
		}
		return ab, nil
	case map[string]any:
		if len(v) != 1 {
			break
		}
		for k, inner := range v {
			ip := p + "." + k
			switch k {
			case "prefix", "suffix":
				m, err := compileAffix(ip, k == "prefix", inner)
				if err != nil {
					return nil, err
				}
				return anythingBut{not: []matcher{m}}, nil
			case "equals-ignore-case", "wildcard":
				vals, ok := inner.([]any)
				if !ok {
					vals = []any{inner}
				}
				ab := anythingBut{}
				for _, s := range vals {
					m, err := compileMatcher(ip, map[string]any{k: s})
					if err != nil {
						return nil, err
					}
					ab.not = append(ab.not, m)
				}
				return ab, nil
			}
		}
	}
	return nil, fmt.Errorf("%s: takes a value, a list of values, or {\"prefix\"|\"suffix\"|\"equals-ignore-case\"|\"wildcard\": ...}", p)
}

// Match reports whether the event (decoded with Decode) matches.
func (p *Pattern) Match(event any) bool {
	m, ok := event.(map[string]any)
	return ok && p.root.match(m)
}

// MatchJSON decodes an event and matches it.
func (p *Pattern) MatchJSON(data []byte) (bool, error) {
	ev, err := Decode(data)
	if err != nil {
		return false, err
	}
	return p.Match(ev), nil
}

// Decode decodes an event for Match; numbers stay exact.
func Decode(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	return v, nil
}

func (o *object) match(ev map[string]any) bool {
	for _, f := range o.fields {
		v, present := ev[f.name]
		if f.nested != nil {
			if !present || !f.nested.matchValue(v) {
				return false
			}
			continue
		}
		if !matchField(f.matchers, v, present) {
			return false
		}
	}
	for _, alts := range o.ors {
		if !slices.ContainsFunc(alts, func(a *object) bool { return a.match(ev) }) {
			return false
		}
	}
	return true
}

// matchValue matches an object value, or an array holding an object that
// matches.
func (o *object) matchValue(v any) bool {
	switch v := v.(type) {
	case map[string]any:
		return o.match(v)
	case []any:
		return slices.ContainsFunc(v, o.matchValue)
	}
	return false
}

// matchField applies a field's matchers (OR) to its value; an array value
// matches when any element does.
func matchField(ms []matcher, v any, present bool) bool {
	for _, m := range ms {
		if !present {
			if m.matchMissing() {
				return true
			}
			continue
		}
		if list, ok := v.([]any); ok {
			if _, isExists := m.(exists); isExists {
				if m.match(v) {
					return true
				}
				continue
			}
			if slices.ContainsFunc(list, m.match) {
				return true
			}
			continue
		}
		if m.match(v) {
			return true
		}
	}
	return false
}

type equal struct{ v any } // nil, string, bool or float64

func (e equal) match(v any) bool {
	switch w := e.v.(type) {
	case float64:
		f, ok := number(v)
		return ok && f == w
	case nil:
		return v == nil
	default:
		return v == e.v
	}
}
func (equal) matchMissing() bool { return false }

func number(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil && !math.IsNaN(f)
}

type affix struct {
	s      string
	prefix bool
	fold   bool
}

func (a affix) match(v any) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	if a.fold {
		s = strings.ToLower(s)
	}
	if a.prefix {
		return strings.HasPrefix(s, a.s)
	}
	return strings.HasSuffix(s, a.s)
}
func (affix) matchMissing() bool { return false }

type ignoreCase struct{ s string }

func (i ignoreCase) match(v any) bool {
	s, ok := v.(string)
	return ok && strings.EqualFold(s, i.s)
}
func (ignoreCase) matchMissing() bool { return false }

type exists struct{ want bool }

// match is called only for a present field: it exists unless it is an
// object (EventBridge matches exists on leaf fields) .
func (e exists) match(v any) bool {
	_, isObj := v.(map[string]any)
	return e.want == !isObj
}
func (e exists) matchMissing() bool { return !e.want }

type numOp struct {
	op string
	n  float64
}

type numeric struct{ ops []numOp }

func (n numeric) match(v any) bool {
	f, ok := number(v)
	if !ok {
		return false
	}
	for _, o := range n.ops {
		var ok bool
		switch o.op {
		case "=":
			ok = f == o.n
		case "<":
			ok = f < o.n
		case "<=":
			ok = f <= o.n
		case ">":
			ok = f > o.n
		case ">=":
			ok = f >= o.n
		}
		if !ok {
			return false
		}
	}
	return true
}
func (numeric) matchMissing() bool { return false }

type cidr struct{ p netip.Prefix }

func (c cidr) match(v any) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	a, err := netip.ParseAddr(s)
	return err == nil && c.p.Contains(a)
}
func (cidr) matchMissing() bool { return false }

type anythingBut struct{ not []matcher }

func (a anythingBut) match(v any) bool {
	for _, m := range a.not {
		if m.match(v) {
			return false
		}
	}
	return true
}
func (anythingBut) matchMissing() bool { return false }

// wildcard is a pattern of literal runs separated by '*'.
type wildcard struct{ parts []string }

func compileWildcard(p, s string) (matcher, error) {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '\\'):
			cur.WriteByte(s[i+1])
			i++
		case c == '\\':
			return nil, fmt.Errorf("%s: a backslash escapes only * or \\", p)
		case c == '*':
			if i > 0 && s[i-1] == '*' {
				return nil, fmt.Errorf("%s: consecutive * are not allowed", p)
			}
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	parts = append(parts, cur.String())
	return wildcard{parts: parts}, nil
}

func (w wildcard) match(v any) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	if len(w.parts) == 1 {
		return s == w.parts[0]
	}
	first, last := w.parts[0], w.parts[len(w.parts)-1]
	if !strings.HasPrefix(s, first) {
		return false
	}
	s = s[len(first):]
	for _, mid := range w.parts[1 : len(w.parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return strings.HasSuffix(s, last)
}
func (wildcard) matchMissing() bool { return false }
