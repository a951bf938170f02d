package telemetry_test

import (
	"context"
	"log/slog"
	"time"
)

var timeZero time.Time

type countingHandler struct{ seen *[]int }

func (h countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countingHandler) Handle(_ context.Context, r slog.Record) error {
	*h.seen = append(*h.seen, r.NumAttrs())
	return nil
}
func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countingHandler) WithGroup(string) slog.Handler      { return h }
