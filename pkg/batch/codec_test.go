package batch

import (
	"bytes"
	stdjson "encoding/json"
	"reflect"
	"testing"

	"github.com/segmentio/encoding/json"
)

// TestWireCodecMatchesEncodingJSON checks the claim of docs/architecture.md
// ("The handler contract"): the internal wire's codec
// (segmentio/encoding/json) writes a record byte for byte as encoding/json
// does (the api reads records with encoding/json) and reads back what
// encoding/json reads, for a record with every field set.
func TestWireCodecMatchesEncodingJSON(t *testing.T) {
	for _, v := range []any{filled[JobDetail](t), filled[JobDefinition](t), filled[JobQueueDetail](t), filled[ComputeEnvironmentDetail](t)} {
		want, err := stdjson.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%T encoded\n%s\nwant (encoding/json)\n%s", v, got, want)
		}
		std := reflect.New(reflect.TypeOf(v))
		wire := reflect.New(reflect.TypeOf(v))
		if err := stdjson.Unmarshal(want, std.Interface()); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(want, wire.Interface()); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(wire.Elem().Interface(), std.Elem().Interface()) {
			t.Errorf("%T decoded\n%+v\nwant (encoding/json)\n%+v", v, wire.Elem().Interface(), std.Elem().Interface())
		}
		if !reflect.DeepEqual(wire.Elem().Interface(), v) {
			t.Errorf("%T did not survive the round trip", v)
		}
	}
}

// filled returns a T with every field set to a value that is not zero,
// nested structs, slices, maps and pointers included (to a few levels).
func filled[T any](t *testing.T) T {
	t.Helper()
	var v T
	fill(reflect.ValueOf(&v).Elem(), 0)
	return v
}

func fill(v reflect.Value, depth int) {
	if depth > 6 {
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("s<&>\u00e9" + v.Type().Name())
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(7 + depth))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(9 + depth))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1.5)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), depth+1)
		v.Set(p)
	case reflect.Slice:
		if v.Type() == reflect.TypeFor[stdjson.RawMessage]() {
			v.SetBytes([]byte(`{"a":[1,"b"]}`))
			return
		}
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fill(s.Index(i), depth+1)
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for i := range 2 {
			k := reflect.New(v.Type().Key()).Elem()
			fill(k, depth+1)
			if k.Kind() == reflect.String {
				k.SetString(k.String() + string(rune('b'-i)))
			}
			e := reflect.New(v.Type().Elem()).Elem()
			fill(e, depth+1)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), depth+1)
			}
		}
	case reflect.Interface:
		// left nil: no record field is an interface today
	}
}
