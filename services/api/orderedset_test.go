package api

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestOrderedSetRandom checks the chunked set against a sorted slice under
// random inserts and removals, and every ascend/descend starting point.
func TestOrderedSetRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var s orderedSet
	var ref []*jobEntry
	pool := make([]*jobEntry, 3000)
	for i := range pool {
		pool[i] = &jobEntry{key: sortKey{createdAt: int64(rng.IntN(500)), seq: uint64(i), id: fmt.Sprintf("j%04d", i)}}
	}
	in := map[*jobEntry]bool{}
	cmpEntry := func(a, b *jobEntry) int { return a.key.compare(b.key) }
	for step := range 20000 {
		e := pool[rng.IntN(len(pool))]
		if in[e] {
			if !s.remove(e) {
				t.Fatalf("step %d: remove of a present entry failed", step)
			}
			i, _ := slices.BinarySearchFunc(ref, e, cmpEntry)
			ref = slices.Delete(ref, i, i+1)
			delete(in, e)
		} else {
			s.insert(e)
			i, _ := slices.BinarySearchFunc(ref, e, cmpEntry)
			ref = slices.Insert(ref, i, e)
			in[e] = true
		}
		if step%997 == 0 {
			checkSet(t, &s, ref)
		}
	}
	checkSet(t, &s, ref)
	// Removing an absent entry and inserting a present one change nothing.
	absent := &jobEntry{key: sortKey{createdAt: -1, id: "none"}}
	if s.remove(absent) {
		t.Fatal("removed an absent entry")
	}
	s.insert(ref[0])
	checkSet(t, &s, ref)
	for len(ref) > 0 {
		if !s.remove(ref[len(ref)-1]) {
			t.Fatal("remove failed while emptying")
		}
		ref = ref[:len(ref)-1]
	}
	if s.len() != 0 || len(s.chunks) != 0 {
		t.Fatalf("set not empty: %d entries, %d chunks", s.len(), len(s.chunks))
	}
}

func checkSet(t *testing.T, s *orderedSet, ref []*jobEntry) {
	t.Helper()
	if s.len() != len(ref) {
		t.Fatalf("len = %d, want %d", s.len(), len(ref))
	}
	var got []*jobEntry
	s.ascend(nil, func(e *jobEntry) bool { got = append(got, e); return true })
	if !slices.Equal(got, ref) {
		t.Fatal("ascend(nil) differs from the reference")
	}
	for _, c := range s.chunks {
		if len(c) == 0 || len(c) > chunkMax {
			t.Fatalf("chunk of %d entries", len(c))
		}
	}
	for _, i := range []int{0, len(ref) / 3, len(ref) / 2, len(ref) - 1} {
		if i < 0 || i >= len(ref) {
			continue
		}
		k := ref[i].key
		got = got[:0]
		s.ascend(&k, func(e *jobEntry) bool { got = append(got, e); return len(got) < 50 })
		if want := ref[i+1 : min(i+51, len(ref))]; !slices.Equal(got, want) {
			t.Fatalf("ascend after %d: got %d entries, want %d", i, len(got), len(want))
		}
		got = got[:0]
		s.descend(&k, func(e *jobEntry) bool { got = append(got, e); return len(got) < 50 })
		want := slices.Clone(ref[max(0, i-50):i])
		slices.Reverse(want)
		if !slices.Equal(got, want) {
			t.Fatalf("descend before %d: got %d entries, want %d", i, len(got), len(want))
		}
	}
	// A cursor between keys (not present in the set).
	mid := sortKey{createdAt: 250}
	got = got[:0]
	s.descend(&mid, func(e *jobEntry) bool { got = append(got, e); return true })
	for _, e := range got {
		if e.key.createdAt >= 250 {
			t.Fatalf("descend before createdAt 250 returned %v", e.key)
		}
	}
	n := 0
	for _, e := range ref {
		if e.key.createdAt < 250 {
			n++
		}
	}
	if len(got) != n {
		t.Fatalf("descend before createdAt 250: %d entries, want %d", len(got), n)
	}
}
