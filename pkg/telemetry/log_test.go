package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/batchd/batchd/pkg/telemetry"
	"go.opentelemetry.io/otel/trace"
)

func spanContext(t *testing.T) trace.SpanContext {
	t.Helper()
	tid, err := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	if err != nil {
		t.Fatal(err)
	}
	sid, err := trace.SpanIDFromHex("00f067aa0ba902b7")
	if err != nil {
		t.Fatal(err)
	}
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled})
}

func logLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	dec := json.NewDecoder(buf)
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// A line logged with a span's context carries its trace and span ids, next
// to the logger's own attributes; a line without one carries none.
func TestLogHandlerAddsTraceIDs(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(telemetry.NewLogHandler(slog.NewJSONHandler(&buf, nil))).With("service", "monitor")
	ctx := trace.ContextWithSpanContext(context.Background(), spanContext(t))

	log.InfoContext(ctx, "job created", telemetry.LogJobID, "j-1")
	log.Info("no context")
	log.InfoContext(context.Background(), "context without a span")
	log.WithGroup("g").InfoContext(ctx, "grouped", "k", "v")

	lines := logLines(t, &buf)
	if len(lines) != 4 {
		t.Fatalf("want 4 lines, got %d", len(lines))
	}
	first := lines[0]
	if first["trace_id"] != "4bf92f3577b34da6a3ce929d0e0e4736" || first["span_id"] != "00f067aa0ba902b7" ||
		first["job_id"] != "j-1" || first["service"] != "monitor" || first["msg"] != "job created" {
		t.Fatalf("first line: %v", first)
	}
	for _, l := range lines[1:3] {
		if _, ok := l["trace_id"]; ok {
			t.Fatalf("a line without a span got a trace id: %v", l)
		}
		if _, ok := l["span_id"]; ok {
			t.Fatalf("a line without a span got a span id: %v", l)
		}
	}
	g, _ := lines[3]["g"].(map[string]any)
	if g["trace_id"] != "4bf92f3577b34da6a3ce929d0e0e4736" || g["k"] != "v" {
		t.Fatalf("grouped line: %v", lines[3])
	}
}

// The level of the wrapped handler decides what is logged.
func TestLogHandlerKeepsLevel(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(telemetry.NewLogHandler(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})))
	ctx := trace.ContextWithSpanContext(context.Background(), spanContext(t))
	log.InfoContext(ctx, "hidden")
	log.WarnContext(ctx, "shown")
	got := buf.String()
	if bytes.Contains([]byte(got), []byte("hidden")) {
		t.Fatalf("an info line passed a warn handler: %q", got)
	}
	want := "msg=shown trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7\n"
	if !bytes.HasSuffix([]byte(got), []byte(want)) {
		t.Fatalf("text line: want suffix %q, got %q", want, got)
	}
}

// The handler does not change the record the caller made: a second
// handler (or a retained record) sees it as logged.
func TestLogHandlerLeavesRecord(t *testing.T) {
	var seen []int
	h := telemetry.NewLogHandler(countingHandler{&seen})
	ctx := trace.ContextWithSpanContext(context.Background(), spanContext(t))
	r := slog.NewRecord(timeZero, slog.LevelInfo, "m", 0)
	r.AddAttrs(slog.Int("a", 1), slog.Int("b", 2), slog.Int("c", 3), slog.Int("d", 4), slog.Int("e", 5), slog.Int("f", 6))
	if err := h.Handle(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := h.Handle(ctx, r); err != nil {
		t.Fatal(err)
	}
	if r.NumAttrs() != 6 || seen[0] != 8 || seen[1] != 8 {
		t.Fatalf("record attrs after: %d; handler saw %v", r.NumAttrs(), seen)
	}
}
