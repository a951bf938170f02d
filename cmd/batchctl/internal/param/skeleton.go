package param

import (
	"bytes"
	"encoding/json"
	"reflect"
)

// Skeleton returns a compact JSON template of type t with the wire names
// in declaration order, as aws-cli's --generate-cli-skeleton prints it:
// "" for strings, 0 for numbers, true for booleans, one element in lists
// and a "KeyName" entry in maps.
func Skeleton(t reflect.Type) []byte {
	var b bytes.Buffer
	writeSkeleton(&b, t, 0)
	return b.Bytes()
}

func writeSkeleton(b *bytes.Buffer, t reflect.Type, depth int) {
	t = deref(t)
	if depth > 12 {
		b.WriteString("null")
		return
	}
	switch t.Kind() {
	case reflect.String:
		b.WriteString(`""`)
	case reflect.Bool:
		b.WriteString("true")
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Float32, reflect.Float64:
		b.WriteString("0")
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			b.WriteString(`""`)
			return
		}
		b.WriteByte('[')
		writeSkeleton(b, t.Elem(), depth+1)
		b.WriteByte(']')
	case reflect.Map:
		b.WriteString(`{"KeyName":`)
		writeSkeleton(b, t.Elem(), depth+1)
		b.WriteByte('}')
	case reflect.Struct:
		b.WriteByte('{')
		for i, f := range Fields(t) {
			if i > 0 {
				b.WriteByte(',')
			}
			name, _ := json.Marshal(WireName(f))
			b.Write(name)
			b.WriteByte(':')
			writeSkeleton(b, f.Type, depth+1)
		}
		b.WriteByte('}')
	default:
		b.WriteString("null")
	}
}
