package batch

import (
	"strings"
	"testing"

	"pgregory.net/rapid"
)

func TestParseTargetNodes(t *testing.T) {
	for _, tc := range []struct {
		in      string
		n       int
		want    NodeRange
		errPart string
	}{
		{in: "0:3", n: 4, want: NodeRange{0, 3, false}},
		{in: ":2", n: 4, want: NodeRange{0, 2, false}},
		{in: "1:", n: 4, want: NodeRange{1, 3, true}},
		{in: ":", n: 4, want: NodeRange{0, 3, true}},
		{in: "2", n: 4, want: NodeRange{2, 2, false}},
		{in: "0", n: 1, want: NodeRange{0, 0, false}},
		{in: "0:4", n: 4, errPart: "ends at node 4"},
		{in: "4", n: 4, errPart: "starts at node 4"},
		{in: "4:", n: 4, errPart: "starts at node 4"},
		{in: "3:1", n: 4, errPart: "empty"},
		{in: "", n: 4, errPart: "required"},
		{in: "a:b", n: 4, errPart: "not a node range"},
		{in: "-1:2", n: 4, errPart: "not a node range"},
		{in: " 1", n: 4, errPart: "not a node range"},
		{in: "1:2:3", n: 4, errPart: "not a node range"},
	} {
		got, err := ParseTargetNodes(tc.in, tc.n)
		if tc.errPart != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errPart) {
				t.Errorf("%q/%d: error %v, want one with %q", tc.in, tc.n, err, tc.errPart)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q/%d = %+v, %v; want %+v", tc.in, tc.n, got, err, tc.want)
		}
	}
}

func TestResolveNodeRanges(t *testing.T) {
	for _, tc := range []struct {
		name    string
		n       int
		targets []string
		want    []int
		errPart string
	}{
		{name: "one range", n: 3, targets: []string{"0:2"}, want: []int{0, 0, 0}},
		{name: "nested wins", n: 11, targets: []string{"0:10", "4:5"}, want: []int{0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0}},
		{name: "main and rest", n: 4, targets: []string{"0", "1:"}, want: []int{0, 1, 1, 1}},
		{name: "later overrides earlier wholly", n: 3, targets: []string{"1", ":"}, want: []int{1, 1, 1}},
		{name: "gap", n: 5, targets: []string{"0:1", "3:"}, errPart: "node(s) 2 of the 5 nodes"},
		{name: "out of bounds", n: 3, targets: []string{"0:3"}, errPart: "nodeRangeProperties[0]: targetNodes \"0:3\" ends at node 3"},
	} {
		got, err := ResolveNodeRanges(tc.n, tc.targets)
		if tc.errPart != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errPart) {
				t.Errorf("%s: error %v, want one with %q", tc.name, err, tc.errPart)
			}
			continue
		}
		if err != nil || !equalInts(got, tc.want) {
			t.Errorf("%s: %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Range resolution against a model: each node belongs to the last range
// that names it; an uncovered node is an error naming it; NodeContainer
// agrees with the resolution.
func TestResolveNodeRangesProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 40).Draw(t, "numNodes")
		k := rapid.IntRange(1, MaxNodeRanges).Draw(t, "ranges")
		var targets []string
		var ranges []NodeRange
		for i := 0; i < k; i++ {
			a := rapid.IntRange(0, n-1).Draw(t, "from")
			b := rapid.IntRange(a, n-1).Draw(t, "to")
			var s string
			switch rapid.IntRange(0, 4).Draw(t, "form") {
			case 0:
				s = NodeRange{From: a, To: b}.String()
				if a != b {
					s = itoa(a) + ":" + itoa(b)
				}
			case 1:
				s, a = ":"+itoa(b), 0
			case 2:
				s, b = itoa(a)+":", n-1
			case 3:
				s, a, b = ":", 0, n-1
			default:
				s, b = itoa(a), a
			}
			targets = append(targets, s)
			ranges = append(ranges, NodeRange{From: a, To: b})
		}
		got, err := ResolveNodeRanges(n, targets)
		want := make([]int, n)
		for i := range want {
			want[i] = -1
			for r, rg := range ranges {
				if rg.Contains(i) {
					want[i] = r
				}
			}
			if want[i] < 0 {
				// The first uncovered node is named.
				if err == nil || !strings.Contains(err.Error(), "node(s) "+itoa(i)) {
					t.Fatalf("node %d uncovered by %v: err %v", i, targets, err)
				}
				return
			}
		}
		if err != nil || !equalInts(got, want) {
			t.Fatalf("%v over %d nodes: %v, %v; want %v", targets, n, got, err, want)
		}
		np := NodeProperties{NumNodes: n}
		for r, s := range targets {
			np.NodeRangeProperties = append(np.NodeRangeProperties, NodeRangeProperty{TargetNodes: s,
				Container: &ContainerProperties{Image: "img" + itoa(r)}})
		}
		for i := 0; i < n; i++ {
			if c := np.NodeContainer(i); c == nil || c.Image != "img"+itoa(want[i]) {
				t.Fatalf("NodeContainer(%d) = %+v, want range %d", i, c, want[i])
			}
		}
	})
}

func TestNodeIDs(t *testing.T) {
	id := NodeID("abc-1", 12)
	if id != "abc-1#12" {
		t.Fatalf("NodeID = %q", id)
	}
	if p, i, ok := MultiNodeParentOf(id); !ok || p != "abc-1" || i != 12 {
		t.Fatalf("MultiNodeParentOf(%q) = %q, %d, %v", id, p, i, ok)
	}
	for _, bad := range []string{"abc", "#1", "abc#", "abc#x", "abc:1"} {
		if _, _, ok := MultiNodeParentOf(bad); ok {
			t.Errorf("MultiNodeParentOf(%q) ok", bad)
		}
	}
}
