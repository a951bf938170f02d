package format

import (
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/jedib0t/go-pretty/v6/text"
)

// newTable returns a table writer in the style every table of batchctl
// uses.
func newTable() table.Writer {
	t := table.NewWriter()
	t.SetStyle(table.StyleLight)
	t.Style().Format.Header = text.FormatDefault
	t.Style().Title.Align = text.AlignCenter
	return t
}

// renderTitled writes t under title, widening the last of its ncols
// columns (whose cells are lastCells) when the table is narrower than the
// title, which go-pretty would otherwise wrap.
func renderTitled(w io.Writer, t table.Writer, title string, ncols int, lastCells []string) error {
	if title != "" {
		plain, _, _ := strings.Cut(t.Render(), "\n")
		if width, need := text.StringWidth(plain), text.StringWidth(title)+4; width < need {
			widest := 0
			for _, c := range lastCells {
				widest = max(widest, text.StringWidth(c))
			}
			t.SetColumnConfigs([]table.ColumnConfig{{Number: ncols, WidthMin: widest + need - width}})
		}
		t.SetTitle("%s", title)
	}
	return render(w, t)
}

func render(w io.Writer, t table.Writer) error {
	_, err := io.WriteString(w, t.Render()+"\n")
	return err
}

// Table writes any decoded value as tables: an object's scalars as
// key/value rows, a list of objects as one row per element (with the
// union of their scalar keys as columns), a list of scalars as one column,
// and nested values as further tables titled by their key.
func Table(w io.Writer, title string, v any) error {
	switch x := v.(type) {
	case map[string]any:
		return tableDict(w, title, x)
	case []any:
		return tableList(w, title, x)
	case nil:
		return nil
	default:
		t := newTable()
		t.AppendRow(table.Row{scalarCell(x)})
		return renderTitled(w, t, title, 1, []string{scalarCell(x)})
	}
}

func scalarCell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case bool:
		if x {
			return "true"
		}
		return "false"
	}
	return scalarText(v)
}

func tableDict(w io.Writer, title string, m map[string]any) error {
	keys := slices.Sorted(maps.Keys(m))
	t := newTable()
	var values []string
	for _, k := range keys {
		if isScalar(m[k]) {
			t.AppendRow(table.Row{k, scalarCell(m[k])})
			values = append(values, scalarCell(m[k]))
		}
	}
	if len(values) > 0 {
		if err := renderTitled(w, t, title, 2, values); err != nil {
			return err
		}
	}
	for _, k := range keys {
		if isScalar(m[k]) {
			continue
		}
		if err := Table(w, joinTitle(title, k), m[k]); err != nil {
			return err
		}
	}
	return nil
}

func joinTitle(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func tableList(w io.Writer, title string, list []any) error {
	if len(list) == 0 {
		return nil
	}
	keys := allScalarKeys(list)
	t := newTable()
	if len(keys) == 0 {
		var cells []string
		for _, e := range list {
			if isScalar(e) {
				t.AppendRow(table.Row{scalarCell(e)})
				cells = append(cells, scalarCell(e))
			}
		}
		if len(cells) == 0 {
			return nil
		}
		return renderTitled(w, t, title, 1, cells)
	}
	header := make(table.Row, len(keys))
	for i, k := range keys {
		header[i] = k
	}
	t.AppendHeader(header)
	last := []string{keys[len(keys)-1]}
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		row := make(table.Row, len(keys))
		for i, k := range keys {
			row[i] = scalarCell(m[k])
		}
		last = append(last, scalarCell(m[keys[len(keys)-1]]))
		t.AppendRow(row)
	}
	return renderTitled(w, t, title, len(keys), last)
}

// truncate shortens s to at most n runes, marking the cut with "…".
func truncate(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
