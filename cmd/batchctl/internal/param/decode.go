package param

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Load resolves a file:// reference to the file's content; any other value
// is returned unchanged.
func Load(raw string) (string, error) {
	path, ok := strings.CutPrefix(raw, "file://")
	if !ok {
		return raw, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read parameter file: %w", err)
	}
	return string(b), nil
}

// Decode builds a value of type t from the values given to one parameter,
// one entry per occurrence. Structures and maps take JSON or shorthand;
// lists take a JSON array, or elements (comma separated for scalars, one
// element per value for structures); scalars take their text. Every value
// may be a file:// reference. Unknown keys are refused.
func Decode(t reflect.Type, raws []string) (reflect.Value, error) {
	texts := make([]string, len(raws))
	for i, r := range raws {
		s, err := Load(r)
		if err != nil {
			return reflect.Value{}, err
		}
		texts[i] = s
	}
	base := deref(t)
	var data []byte
	var err error
	switch base.Kind() {
	case reflect.Slice:
		data, err = listJSON(base.Elem(), texts)
	case reflect.Map, reflect.Struct:
		if len(texts) != 1 {
			return reflect.Value{}, errors.New("expected a single value")
		}
		data, err = compositeJSON(base, texts[0])
	default:
		if len(texts) != 1 {
			return reflect.Value{}, errors.New("expected a single value")
		}
		var v any
		if v, err = Coerce(texts[0], base); err == nil {
			data, err = json.Marshal(v)
		}
	}
	if err != nil {
		return reflect.Value{}, err
	}
	out := reflect.New(t)
	if err := StrictUnmarshal(data, out.Interface()); err != nil {
		return reflect.Value{}, err
	}
	return out.Elem(), nil
}

// StrictUnmarshal decodes one JSON document into v, refusing unknown keys
// and trailing data. Keys match field names case-insensitively.
func StrictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("invalid JSON: %w", err)
	}
	if dec.More() {
		return errors.New("invalid JSON: unexpected data after the value")
	}
	return nil
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

func isComposite(t reflect.Type) bool {
	switch deref(t).Kind() {
	case reflect.Struct, reflect.Map, reflect.Slice:
		return true
	}
	return false
}

// compositeJSON gives the JSON of a structure or map: the text itself when
// it is JSON, else the shorthand converted.
func compositeJSON(t reflect.Type, s string) ([]byte, error) {
	if strings.HasPrefix(strings.TrimSpace(s), "{") {
		return []byte(s), nil
	}
	m, err := ParseShorthand(s)
	if err != nil {
		return nil, err
	}
	v, err := Coerce(m, t)
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

func listJSON(elem reflect.Type, texts []string) ([]byte, error) {
	items := []json.RawMessage{}
	for _, s := range texts {
		if strings.HasPrefix(strings.TrimSpace(s), "[") {
			var arr []json.RawMessage
			if err := json.Unmarshal([]byte(s), &arr); err != nil {
				return nil, fmt.Errorf("invalid JSON list: %w", err)
			}
			items = append(items, arr...)
			continue
		}
		if isComposite(elem) {
			b, err := compositeJSON(deref(elem), s)
			if err != nil {
				return nil, err
			}
			items = append(items, b)
			continue
		}
		for part := range strings.SplitSeq(s, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			v, err := Coerce(part, elem)
			if err != nil {
				return nil, err
			}
			b, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("encode list element: %w", err)
			}
			items = append(items, b)
		}
	}
	return json.Marshal(items)
}

// Coerce converts a parsed shorthand value (strings, []any, map[string]any)
// into a JSON-ready value matching type t: numbers and booleans parsed,
// a single value where a list is expected wrapped in a list, and structure
// keys matched to field names (case-insensitively, as encoding/json does).
func Coerce(v any, t reflect.Type) (any, error) {
	t = deref(t)
	switch t.Kind() {
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("expected a string, got %s", describe(v))
		}
		return s, nil
	case reflect.Bool:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("expected true or false, got %s", describe(v))
		}
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("expected true or false, got %q", s)
		}
		return b, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("expected an integer, got %s", describe(v))
		}
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, t.Bits())
		if err != nil {
			return nil, fmt.Errorf("expected an integer, got %q", s)
		}
		return n, nil
	case reflect.Float32, reflect.Float64:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("expected a number, got %s", describe(v))
		}
		n, err := strconv.ParseFloat(strings.TrimSpace(s), t.Bits())
		if err != nil {
			return nil, fmt.Errorf("expected a number, got %q", s)
		}
		return n, nil
	case reflect.Slice:
		list, ok := v.([]any)
		if !ok {
			list = []any{v}
		}
		out := make([]any, 0, len(list))
		for _, e := range list {
			c, err := Coerce(e, t.Elem())
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
		return out, nil
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("expected key=value pairs, got %s", describe(v))
		}
		out := make(map[string]any, len(m))
		for k, e := range m {
			c, err := Coerce(e, t.Elem())
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = c
		}
		return out, nil
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("expected a structure, got %s", describe(v))
		}
		out := make(map[string]any, len(m))
		for k, e := range m {
			f, ok := fieldByName(t, k)
			if !ok {
				return nil, fmt.Errorf("unknown parameter %q, must be one of: %s", k, strings.Join(FieldNames(t), ", "))
			}
			c, err := Coerce(e, f.Type)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[f.Name] = c
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported parameter type %s", t)
}

func describe(v any) string {
	switch v.(type) {
	case []any:
		return "a list"
	case map[string]any:
		return "a structure"
	}
	return fmt.Sprintf("%q", v)
}

// Fields lists the exported, JSON-visible fields of a structure.
func Fields(t reflect.Type) []reflect.StructField {
	var out []reflect.StructField
	for f := range deref(t).Fields() {
		if !f.IsExported() || f.Anonymous || f.Tag.Get("json") == "-" {
			continue
		}
		out = append(out, f)
	}
	return out
}

// FieldNames lists the wire (camelCase) names of a structure's fields.
func FieldNames(t reflect.Type) []string {
	var out []string
	for _, f := range Fields(t) {
		out = append(out, WireName(f))
	}
	slices.Sort(out)
	return out
}

func fieldByName(t reflect.Type, key string) (reflect.StructField, bool) {
	for _, f := range Fields(t) {
		if strings.EqualFold(WireName(f), key) {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// WireName is a field's name in the AWS JSON: its json tag, else the Go
// name with a lower-case first letter (true of every AWS SDK shape).
func WireName(f reflect.StructField) string {
	if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag != "" {
		return tag
	}
	return LowerFirst(f.Name)
}

// LowerFirst lower-cases the first letter of s.
func LowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// FlagName is the aws-cli option name of a wire name: "jobName" gives
// "job-name", "unmanagedvCpus" gives "unmanagedv-cpus".
func FlagName(wire string) string {
	var b strings.Builder
	for i, r := range wire {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r - 'A' + 'a')
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
