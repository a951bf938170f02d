package podman

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/batchd/batchd/services/launcher/internal/runtime"
)

// The read after the exit checks the lines the live follow sent: the same
// lines pass and the rest are new; a line cut short or dropped, or one
// more, is reported at the first line that differs.
func TestFollowCheck(t *testing.T) {
	line := func(text string) runtime.LogLine { return runtime.LogLine{Stream: "stdout", Text: text} }
	output := []string{"line 1", "line 2", "line 3", "line 4"}
	for _, tc := range []struct {
		name     string
		followed []string
		newFrom  int // index of output from which read says new
		wantLine int // 0: no error
	}{
		{"exact", []string{"line 1", "line 2"}, 2, 0},
		{"nothing followed", nil, 0, 0},
		{"all followed", output, 4, 0},
		{"cut short", []string{"line 1", "li", "line 3"}, 3, 2},
		{"dropped", []string{"line 1", "line 3"}, 2, 2},
		{"one more", []string{"line 1", "line 2", "line 3", "line 4", "line 4"}, 4, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c followCheck
			for _, f := range tc.followed {
				c.followed(line(f))
			}
			for i, o := range output {
				if got := c.read(line(o)); got != (i >= tc.newFrom) {
					t.Errorf("read(%q) = %v, want %v", o, got, i >= tc.newFrom)
				}
			}
			err := c.result("ctr")
			switch {
			case tc.wantLine == 0 && err != nil:
				t.Errorf("result: %v, want nil", err)
			case tc.wantLine != 0 && (!errors.Is(err, ErrFollowGarbled) || !strings.Contains(err.Error(), fmt.Sprintf(" line %d of ", tc.wantLine))):
				t.Errorf("result: %v, want ErrFollowGarbled at line %d", err, tc.wantLine)
			}
		})
	}
	// The same text on the other stream is another line.
	var c followCheck
	c.followed(runtime.LogLine{Stream: "stderr", Text: "x"})
	c.read(runtime.LogLine{Stream: "stdout", Text: "x"})
	if err := c.result("ctr"); !errors.Is(err, ErrFollowGarbled) {
		t.Errorf("stderr followed, stdout read: %v, want ErrFollowGarbled", err)
	}
	// A container read only after its exit has nothing to check.
	var none followCheck
	if err := none.result("ctr"); err != nil {
		t.Errorf("no read at all: %v", err)
	}
}
