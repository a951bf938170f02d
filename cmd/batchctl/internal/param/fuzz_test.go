package param

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/batch/types"
)

// FuzzShorthand parses any shorthand: no input panics or hangs, and a
// parsed value is plain JSON.
func FuzzShorthand(f *testing.F) {
	for _, s := range []string{"a=1,b=2", "command=[sh,-c,echo hi],vcpus=1", `env=[{name=A,value="x,y"}]`,
		"a={b={c=[1,2,{d=e}]}}", `a='q"uote',b="it's"`, "a=", "=b", "a=[", "a={", `a="\"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseShorthand(s)
		if err != nil {
			return
		}
		if _, err := json.Marshal(m); err != nil {
			t.Fatalf("ParseShorthand(%q) gave a value JSON cannot encode: %v", s, err)
		}
	})
}

// decodeTypes are parameter types of real commands.
var decodeTypes = []reflect.Type{
	reflect.TypeFor[*types.ContainerOverrides](), reflect.TypeFor[[]types.KeyValuePair](), reflect.TypeFor[map[string]string](),
	reflect.TypeFor[*types.RetryStrategy](), reflect.TypeFor[*int32](), reflect.TypeFor[*bool](), reflect.TypeFor[[]string](),
	reflect.TypeFor[[]types.JobDependency](), reflect.TypeFor[*types.ContainerProperties](),
}

// FuzzDecode decodes any parameter text (JSON or shorthand) into the
// parameter types of the commands: no input panics or hangs.
func FuzzDecode(f *testing.F) {
	for i, s := range []string{`{"command":["sh"],"vcpus":1}`, "name=A,value=1", "a=1", "attempts=2", "5", "true", "a,b,c",
		"jobId=x,type=N_TO_N", `{"image":"busybox","linuxParameters":{"devices":[{"hostPath":"/dev/x"}]}}`} {
		f.Add(s, uint8(i))
	}
	f.Fuzz(func(t *testing.T, s string, kind uint8) {
		if strings.Contains(s, "file://") {
			return // reads files: not this test's business
		}
		_, _ = Decode(decodeTypes[int(kind)%len(decodeTypes)], []string{s})
	})
}
