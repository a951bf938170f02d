package api

import (
	"cmp"
	"slices"
	"sort"
	"strings"
)

// sortKey orders jobs: by creation time, then by the stream sequence of
// their submit, then by array index, then by id, so that two jobs never
// compare equal. It never changes during a job's life once the record has
// its sequence.
type sortKey struct {
	createdAt int64
	seq       uint64
	index     int32
	id        string
}

func (a sortKey) compare(b sortKey) int {
	if c := cmp.Compare(a.createdAt, b.createdAt); c != 0 {
		return c
	}
	if c := cmp.Compare(a.seq, b.seq); c != 0 {
		return c
	}
	if c := cmp.Compare(a.index, b.index); c != 0 {
		return c
	}
	return strings.Compare(a.id, b.id)
}

// chunkMax is the most entries one chunk of an orderedSet holds.
const chunkMax = 256

// orderedSet is a set of jobs sorted by sortKey: a list of sorted chunks,
// so that inserting or removing anywhere moves at most one chunk of
// pointers plus the chunk list, and iteration from any key is a binary
// search away. It is not safe for concurrent use.
type orderedSet struct {
	chunks [][]*jobEntry
	n      int
}

func (s *orderedSet) len() int { return s.n }

// chunkFor returns the first chunk whose last key is >= k (len if none).
func (s *orderedSet) chunkFor(k sortKey) int {
	return sort.Search(len(s.chunks), func(i int) bool {
		c := s.chunks[i]
		return c[len(c)-1].key.compare(k) >= 0
	})
}

func searchChunk(c []*jobEntry, k sortKey) int {
	return sort.Search(len(c), func(i int) bool { return c[i].key.compare(k) >= 0 })
}

// insert adds e (keyed by e.key); adding a present key is a no-op.
func (s *orderedSet) insert(e *jobEntry) {
	if len(s.chunks) == 0 {
		s.chunks = append(s.chunks, append(make([]*jobEntry, 0, 8), e))
		s.n = 1
		return
	}
	ci := min(s.chunkFor(e.key), len(s.chunks)-1)
	c := s.chunks[ci]
	i := searchChunk(c, e.key)
	if i < len(c) && c[i].key.compare(e.key) == 0 {
		return
	}
	c = slices.Insert(c, i, e)
	s.n++
	if len(c) <= chunkMax {
		s.chunks[ci] = c
		return
	}
	half := len(c) / 2
	right := append(make([]*jobEntry, 0, chunkMax), c[half:]...)
	clear(c[half:])
	s.chunks[ci] = c[:half]
	s.chunks = slices.Insert(s.chunks, ci+1, right)
}

// remove deletes the entry with e's key and reports whether it was there.
func (s *orderedSet) remove(e *jobEntry) bool {
	ci := s.chunkFor(e.key)
	if ci == len(s.chunks) {
		return false
	}
	c := s.chunks[ci]
	i := searchChunk(c, e.key)
	if i == len(c) || c[i].key.compare(e.key) != 0 {
		return false
	}
	c = slices.Delete(c, i, i+1)
	s.n--
	switch {
	case len(c) == 0:
		s.chunks = slices.Delete(s.chunks, ci, ci+1)
	case len(c) < chunkMax/4 && ci+1 < len(s.chunks) && len(c)+len(s.chunks[ci+1]) <= chunkMax/2:
		s.chunks[ci] = append(c, s.chunks[ci+1]...)
		s.chunks = slices.Delete(s.chunks, ci+1, ci+2)
	default:
		s.chunks[ci] = c
	}
	return true
}

// ascend calls fn on the entries with a key greater than after (all when
// after is nil), in ascending order, until fn returns false.
func (s *orderedSet) ascend(after *sortKey, fn func(*jobEntry) bool) {
	ci, i := 0, 0
	if after != nil {
		ci = sort.Search(len(s.chunks), func(j int) bool {
			c := s.chunks[j]
			return c[len(c)-1].key.compare(*after) > 0
		})
		if ci < len(s.chunks) {
			c := s.chunks[ci]
			i = sort.Search(len(c), func(j int) bool { return c[j].key.compare(*after) > 0 })
		}
	}
	for ; ci < len(s.chunks); ci, i = ci+1, 0 {
		for _, e := range s.chunks[ci][i:] {
			if !fn(e) {
				return
			}
		}
	}
}

// descend calls fn on the entries with a key less than before (all when
// before is nil), in descending order, until fn returns false.
func (s *orderedSet) descend(before *sortKey, fn func(*jobEntry) bool) {
	ci := len(s.chunks) - 1
	end := -1 // entries [0, end) of chunk ci; -1 means the whole chunk
	if before != nil {
		ci = sort.Search(len(s.chunks), func(j int) bool { return s.chunks[j][0].key.compare(*before) >= 0 }) - 1
		if ci >= 0 {
			end = searchChunk(s.chunks[ci], *before)
		}
	}
	for ; ci >= 0; ci, end = ci-1, -1 {
		c := s.chunks[ci]
		if end < 0 {
			end = len(c)
		}
		for i := end - 1; i >= 0; i-- {
			if !fn(c[i]) {
				return
			}
		}
	}
}
