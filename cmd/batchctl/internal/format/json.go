// Package format prints API answers the way the AWS CLI does: JSON indented
// by four spaces with the keys in the order the service sent them, the
// tab-separated text format, and tables (generic ones, plus readable ones
// for jobs, queues and compute environments).
package format

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// JSON writes the JSON document data indented by four spaces, keeping the
// order of keys and the text of numbers, and without escaping <, > and &
// (as Python's json.dumps does). An empty document or an empty object
// prints nothing, as aws-cli does for operations that answer {}.
func JSON(w io.Writer, data []byte) error {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || isEmptyObject(trimmed) {
		return nil
	}
	var b bytes.Buffer
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	if err := writeValue(&b, dec, 0); err != nil {
		return fmt.Errorf("format JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("format JSON: unexpected data after the document")
	}
	b.WriteByte('\n')
	_, err := w.Write(b.Bytes())
	return err
}

// Value writes a decoded value (the result of a --query) as JSON. Unlike
// JSON it prints an empty object too, since a query asked for it.
func Value(w io.Writer, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("format JSON: %w", err)
	}
	var b bytes.Buffer
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := writeValue(&b, dec, 0); err != nil {
		return fmt.Errorf("format JSON: %w", err)
	}
	b.WriteByte('\n')
	_, err = w.Write(b.Bytes())
	return err
}

func isEmptyObject(b []byte) bool {
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return false
	}
	return len(bytes.TrimSpace(b[1:len(b)-1])) == 0
}

func indent(b *bytes.Buffer, depth int) {
	b.WriteString(strings.Repeat("    ", depth))
}

func writeString(b *bytes.Buffer, s string) {
	var sb bytes.Buffer
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	b.Write(bytes.TrimSuffix(sb.Bytes(), []byte("\n")))
}

func writeValue(b *bytes.Buffer, dec *json.Decoder, depth int) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch v := tok.(type) {
	case json.Delim:
		opening, closing := byte(v), byte('}')
		if v == '[' {
			closing = ']'
		} else if v != '{' {
			return fmt.Errorf("unexpected %q", v)
		}
		if !dec.More() {
			if _, err := dec.Token(); err != nil {
				return err
			}
			b.WriteByte(opening)
			b.WriteByte(closing)
			return nil
		}
		b.WriteByte(opening)
		b.WriteByte('\n')
		for first := true; dec.More(); first = false {
			if !first {
				b.WriteString(",\n")
			}
			indent(b, depth+1)
			if opening == '{' {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				key, ok := k.(string)
				if !ok {
					return fmt.Errorf("object key %v is not a string", k)
				}
				writeString(b, key)
				b.WriteString(": ")
			}
			if err := writeValue(b, dec, depth+1); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return err
		}
		b.WriteByte('\n')
		indent(b, depth)
		b.WriteByte(closing)
	case string:
		writeString(b, v)
	case json.Number:
		b.WriteString(v.String())
	case bool:
		if v {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case nil:
		b.WriteString("null")
	default:
		return fmt.Errorf("unexpected token %v", tok)
	}
	return nil
}

// Decode parses a JSON document into generic values (map[string]any,
// []any, string, float64, bool, nil) for --query and the text and table
// formats. An empty document decodes to an empty object.
func Decode(data []byte) (any, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return map[string]any{}, nil
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("decode response: %w", err)
	}
	return v, nil
}
