package format

import (
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Text writes v in aws-cli's text format: the scalars of an object on one
// tab-separated line (keys sorted), prefixed by the upper-cased name of the
// list or object that holds them, then its nested values in key order.
// It is a port of awscli/text.py.
func Text(w io.Writer, v any) error {
	var b strings.Builder
	formatText(&b, v, "", nil)
	_, err := io.WriteString(w, b.String())
	return err
}

func isScalar(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return false
	}
	return true
}

// scalarText prints a scalar as Python's str() would.
func scalarText(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case string:
		return x
	}
	return ""
}

func formatText(b *strings.Builder, v any, identifier string, scalarKeys []string) {
	switch x := v.(type) {
	case map[string]any:
		formatDict(b, x, identifier, scalarKeys)
	case []any:
		formatList(b, x, identifier)
	default:
		b.WriteString(scalarText(x))
		b.WriteByte('\n')
	}
}

func formatList(b *strings.Builder, list []any, identifier string) {
	if len(list) == 0 {
		return
	}
	hasDict, hasList := false, false
	for _, e := range list {
		switch e.(type) {
		case map[string]any:
			hasDict = true
		case []any:
			hasList = true
		}
	}
	switch {
	case hasDict:
		keys := allScalarKeys(list)
		for _, e := range list {
			formatText(b, e, identifier, keys)
		}
	case hasList:
		var scalars, nested []any
		for _, e := range list {
			if isScalar(e) {
				scalars = append(scalars, e)
			} else {
				nested = append(nested, e)
			}
		}
		if len(scalars) > 0 {
			formatScalarList(b, scalars, identifier)
		}
		for _, e := range nested {
			formatText(b, e, identifier, nil)
		}
	default:
		formatScalarList(b, list, identifier)
	}
}

func formatScalarList(b *strings.Builder, list []any, identifier string) {
	if identifier != "" {
		for _, e := range list {
			b.WriteString(strings.ToUpper(identifier) + "\t" + scalarText(e) + "\n")
		}
		return
	}
	parts := make([]string, len(list))
	for i, e := range list {
		parts[i] = scalarText(e)
	}
	b.WriteString(strings.Join(parts, "\t") + "\n")
}

func allScalarKeys(list []any) []string {
	seen := map[string]bool{}
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		for k, v := range m {
			if isScalar(v) {
				seen[k] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

func formatDict(b *strings.Builder, m map[string]any, identifier string, scalarKeys []string) {
	var scalars []string
	type pair struct {
		key string
		val any
	}
	var nested []pair
	if scalarKeys == nil {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if isScalar(m[k]) {
				scalars = append(scalars, scalarText(m[k]))
			} else {
				nested = append(nested, pair{k, m[k]})
			}
		}
	} else {
		known := map[string]bool{}
		for _, k := range scalarKeys {
			known[k] = true
			if v, ok := m[k]; ok {
				scalars = append(scalars, scalarText(v))
			} else {
				scalars = append(scalars, "")
			}
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if !known[k] {
				nested = append(nested, pair{k, m[k]})
			}
		}
	}
	if len(scalars) > 0 {
		if identifier != "" {
			scalars = append([]string{strings.ToUpper(identifier)}, scalars...)
		}
		b.WriteString(strings.Join(scalars, "\t") + "\n")
	}
	for _, p := range nested {
		formatText(b, p.val, p.key, nil)
	}
}
