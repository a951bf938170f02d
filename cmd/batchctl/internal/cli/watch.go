package cli

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/batchd/batchd/cmd/batchctl/internal/format"
	"github.com/spf13/cobra"
)

// watchOptions are the flags of "batchctl watch".
type watchOptions struct {
	queue    string
	interval time.Duration
	limit    int
	once     bool
}

func (a *app) watchCommand() *cobra.Command {
	var o watchOptions
	cmd := &cobra.Command{
		Use:   "watch --job-queue QUEUE",
		Short: "Show a live table of a queue's jobs until Ctrl-C",
		Long: `Show a table of the jobs of a queue, in every status, refreshed every
--interval until Ctrl-C. Active jobs come first, newest first; then finished ones.`,
		Args: cobra.NoArgs,
		RunE: run(func(cmd *cobra.Command, _ []string) error {
			if o.queue == "" {
				return usagef(cmd, "the following arguments are required: --job-queue")
			}
			if o.interval < 100*time.Millisecond {
				return usagef(cmd, "argument --interval: must be at least 100ms")
			}
			return a.runWatch(cmd.Context(), o)
		}),
	}
	cmd.Flags().StringVar(&o.queue, "job-queue", "", "job queue, by name or ARN (required)")
	cmd.Flags().DurationVar(&o.interval, "interval", time.Second, "time between refreshes")
	cmd.Flags().IntVar(&o.limit, "limit", 40, "the most jobs shown (0: all)")
	cmd.Flags().BoolVar(&o.once, "once", false, "print one table without clearing the screen and exit")
	return cmd
}

// runWatch redraws the queue's table until ctx ends (Ctrl-C), which is a
// normal end. A failed refresh is shown in the frame and retried.
func (a *app) runWatch(ctx context.Context, o watchOptions) error {
	c := a.client()
	for {
		rows, err := a.queueJobs(ctx, c, o.queue)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil && o.once {
			return err
		}
		var frame bytes.Buffer
		if !o.once {
			frame.WriteString("\x1b[H\x1b[2J") // home, clear screen
		}
		a.writeFrame(&frame, o, rows, err)
		if _, werr := a.env.Stdout.Write(frame.Bytes()); werr != nil {
			return fmt.Errorf("write: %w", werr)
		}
		if o.once {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(o.interval):
		}
	}
}

func (a *app) writeFrame(w *bytes.Buffer, o watchOptions, rows []format.JobRow, err error) {
	counts := map[string]int{}
	for _, r := range rows {
		counts[r.Status]++
	}
	var parts []string
	for _, s := range types.JobStatus("").Values() {
		if n := counts[string(s)]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	summary := strings.Join(parts, ", ")
	if summary == "" {
		summary = "no jobs"
	}
	fmt.Fprintf(w, "Queue %s: %s   (%s, every %s, Ctrl-C to stop)\n", o.queue, summary,
		time.Now().In(a.location()).Format("15:04:05"), o.interval)
	if err != nil {
		fmt.Fprintf(w, "refresh failed: %v\n", err)
		return
	}
	shown := rows
	if o.limit > 0 && len(shown) > o.limit {
		shown = shown[:o.limit]
	}
	_ = format.JobsTable(w, "", shown, a.location(), false)
	if len(shown) < len(rows) {
		fmt.Fprintf(w, "… and %d more\n", len(rows)-len(shown))
	}
}

func (a *app) location() *time.Location {
	if a.env.Location != nil {
		return a.env.Location
	}
	return time.Local
}

// statusRank orders a watch: active jobs first, the furthest along first.
var statusRank = map[string]int{
	"RUNNING": 0, "STARTING": 1, "RUNNABLE": 2, "PENDING": 3, "SUBMITTED": 4, "FAILED": 5, "SUCCEEDED": 6,
}

// queueJobs lists every job of the queue, asking ListJobs for each status
// and following every page.
func (a *app) queueJobs(ctx context.Context, c *batch.Client, queue string) ([]format.JobRow, error) {
	var rows []format.JobRow
	for _, st := range types.JobStatus("").Values() {
		p := batch.NewListJobsPaginator(c, &batch.ListJobsInput{JobQueue: &queue, JobStatus: st})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, a.callError("ListJobs", err)
			}
			for _, s := range page.JobSummaryList {
				rows = append(rows, rowOf(s))
			}
		}
	}
	slices.SortStableFunc(rows, func(x, y format.JobRow) int {
		if c := cmp.Compare(statusRank[x.Status], statusRank[y.Status]); c != 0 {
			return c
		}
		return cmp.Compare(y.CreatedAt, x.CreatedAt)
	})
	return rows, nil
}

func rowOf(s types.JobSummary) format.JobRow {
	r := format.JobRow{ID: deref(s.JobId), Name: deref(s.JobName), Status: string(s.Status),
		Reason: deref(s.StatusReason), CreatedAt: deref(s.CreatedAt), StartedAt: deref(s.StartedAt),
		StoppedAt: deref(s.StoppedAt), Attempts: -1, ArrayIndex: -1}
	if s.Container != nil {
		if s.Container.ExitCode != nil {
			code := int(*s.Container.ExitCode)
			r.ExitCode = &code
		}
		if reason := deref(s.Container.Reason); reason != "" && !strings.Contains(r.Reason, reason) {
			r.Reason = strings.TrimSpace(r.Reason + " (" + reason + ")")
		}
	}
	if ap := s.ArrayProperties; ap != nil {
		r.ArraySize = int(deref(ap.Size))
		if ap.Index != nil {
			r.ArrayIndex = int(*ap.Index)
		}
	}
	return r
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
