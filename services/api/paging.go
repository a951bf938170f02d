package api

import (
	"encoding/base64"
	"sort"
)

// pageSize validates maxResults of a Describe operation (1 to 100, default 100).
func pageSize(maxResults int) (int, error) {
	switch {
	case maxResults == 0:
		return maxDescribeItems, nil
	case maxResults < 0 || maxResults > maxDescribeItems:
		return 0, clientErr("maxResults %d is out of range: use 1 to %d", maxResults, maxDescribeItems)
	}
	return maxResults, nil
}

// paginate returns the page of items (sorted ascending by sortKey) that
// follows token, and the token of the next page ("" on the last page).
// A token is the opaque form of the sort key of the last item returned, so
// pages stay correct when items are added or removed between calls.
func paginate[T any](items []T, sortKey func(T) string, maxResults int, token string) ([]T, string, error) {
	n, err := pageSize(maxResults)
	if err != nil {
		return nil, "", err
	}
	start := 0
	if token != "" {
		after, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || len(after) == 0 {
			return nil, "", clientErr("nextToken %q is invalid: pass the nextToken of the previous answer unchanged", token)
		}
		start = sort.Search(len(items), func(i int) bool { return sortKey(items[i]) > string(after) })
	}
	end := min(start+n, len(items))
	page := items[start:end]
	next := ""
	if end < len(items) && len(page) > 0 {
		next = base64.RawURLEncoding.EncodeToString([]byte(sortKey(page[len(page)-1])))
	}
	return page, next, nil
}
