package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/pkg/events"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"
)

// logsOptions are the flags of "batchctl logs".
type logsOptions struct {
	follow     bool
	attempt    int
	container  string
	timestamps bool
	api        bool
}

func (a *app) logsCommand() *cobra.Command {
	var o logsOptions
	cmd := &cobra.Command{
		Use:   "logs JOB_ID",
		Short: "Print the output of a job; -f follows it until the job ends",
		Long: `Print the lines a job wrote on stdout and stderr, in the order it wrote them,
read from the JetStream stream BATCH_LOGS on --nats-url.

With -f, keep printing new lines until the job reaches SUCCEEDED or FAILED
and every line it wrote is printed, then exit 0.

The lines of a multi-container job (ecsProperties) are printed
interleaved, each prefixed with its container's name ("main | ..."); with
--container NAME only that container's, without the prefix.

With --api, read them through batchd's CloudWatch Logs API on --endpoint-url
instead, signed with your API credentials (AWS_ACCESS_KEY_ID ..., as for
every other command): under batchd --auth an API key reaches no JetStream
over NATS, and its policy needs logs:FilterLogEvents on
arn:aws:logs:us-east-1:000000000000:log-group:/aws/batch/job:*. --api
prints what is stored and does not follow (-f).`,
		Args: cobra.ExactArgs(1),
		RunE: run(func(cmd *cobra.Command, args []string) error {
			if o.api {
				if o.follow {
					return usagef(cmd, "--api does not follow: leave out -f, or follow over NATS (--nats-url)")
				}
				return a.runLogsAPI(cmd.Context(), batch.NameFromRef(batch.KindJob, args[0]), o)
			}
			return a.runLogs(cmd.Context(), args[0], o)
		}),
	}
	cmd.Flags().BoolVarP(&o.follow, "follow", "f", false, "keep printing new lines until the job succeeds or fails")
	cmd.Flags().IntVar(&o.attempt, "attempt", -1, "print only this attempt's lines (default: every attempt)")
	cmd.Flags().StringVar(&o.container, "container", "", "print only this container's lines (a multi-container job; default: every container, each line prefixed with its name)")
	cmd.Flags().BoolVar(&o.timestamps, "timestamps", false, "start each line with the time it was written")
	cmd.Flags().BoolVar(&o.api, "api", false, "read through the CloudWatch Logs API on --endpoint-url (API credentials) instead of NATS; not with -f")
	return cmd
}

// connectNATS connects to --nats-url.
func (a *app) connectNATS() (*nats.Conn, jetstream.JetStream, error) {
	nc, err := nats.Connect(a.natsURL, nats.Name("batchctl"), nats.Timeout(5*time.Second))
	if err != nil {
		return nil, nil, fmt.Errorf("connect to NATS at %s: %w", a.natsURL, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("open JetStream at %s: %w", a.natsURL, err)
	}
	return nc, js, nil
}

// runLogs prints the job's lines through an ordered consumer on the logs
// stream, filtered to the job's subjects and delivering from the start.
// It stops once it has printed the last line stored when the job was seen
// in a final state (at once without -f).
func (a *app) runLogs(ctx context.Context, ref string, o logsOptions) error {
	jobID := batch.NameFromRef(batch.KindJob, ref)
	nc, js, err := a.connectNATS()
	if err != nil {
		return err
	}
	defer nc.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	filters := logFilters(jobID, o.attempt, o.container)
	stream, err := js.Stream(ctx, events.StreamLogs)
	if err != nil {
		return fmt.Errorf("open stream %s: %w", events.StreamLogs, err)
	}
	lastSeq := func() (uint64, error) {
		var last uint64
		for _, f := range filters {
			m, err := stream.GetLastMsgForSubject(ctx, f)
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				continue
			}
			if err != nil {
				return 0, fmt.Errorf("find the last line of %s: %w", jobID, err)
			}
			last = max(last, m.Sequence)
		}
		return last, nil
	}

	// ended says the job is final; without -f it is taken as final now.
	ended := make(chan *batch.JobDetail, 1)
	if o.follow {
		if err := a.watchJob(ctx, js, jobID, ended); err != nil {
			return err
		}
	} else {
		target, err := lastSeq()
		if err != nil {
			return err
		}
		if target == 0 {
			return a.checkJobExists(ctx, js, jobID)
		}
		ended <- nil
	}

	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: filters,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return fmt.Errorf("read the lines of %s: %w", jobID, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("read the lines of %s: %w", jobID, err)
	}
	defer it.Stop()
	msgs := make(chan jetstream.Msg, 256)
	failed := make(chan error, 1)
	go func() {
		for {
			m, err := it.Next(jetstream.NextContext(ctx))
			if err != nil {
				failed <- err
				return
			}
			select {
			case msgs <- m:
			case <-ctx.Done():
				return
			}
		}
	}()

	out := bufio.NewWriter(a.env.Stdout)
	defer out.Flush()
	var printed, target uint64
	var final *batch.JobDetail
	done := false
	for !done || printed < target {
		if len(msgs) == 0 {
			if err := out.Flush(); err != nil {
				return fmt.Errorf("write: %w", err)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-failed:
			return fmt.Errorf("read the lines of %s: %w", jobID, err)
		case job := <-ended:
			done, final = true, job
			if target, err = lastSeq(); err != nil {
				return err
			}
		case m := <-msgs:
			meta, err := m.Metadata()
			if err != nil {
				return fmt.Errorf("read the lines of %s: %w", jobID, err)
			}
			printed = meta.Sequence.Stream
			if err := a.writeLine(out, m, o.timestamps, o.container == ""); err != nil {
				return err
			}
		}
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if final != nil {
		fmt.Fprintf(a.env.Stderr, "batchctl: job %s %s%s\n", jobID, final.Status, describeEnd(final))
	}
	return nil
}

func describeEnd(j *batch.JobDetail) string {
	s := ""
	if j.Container != nil && j.Container.ExitCode != nil {
		s += fmt.Sprintf(", exit code %d", *j.Container.ExitCode)
	}
	if j.StatusReason != "" {
		s += ": " + j.StatusReason
	}
	return s
}

// logFilters are the subjects of the lines to print: every line of the
// job, or of one attempt (attempt >= 0), or of one container.
func logFilters(jobID string, attempt int, container string) []string {
	switch {
	case container != "" && attempt >= 0:
		return []string{events.LogContainerSubject(jobID, attempt, container)}
	case container != "":
		return []string{events.LogContainerFilter(jobID, container)}
	case attempt >= 0:
		return []string{events.LogSubject(jobID, attempt), events.LogAttemptFilter(jobID, attempt)}
	}
	return []string{events.LogFilter(jobID)}
}

// writeLine prints one line, with its time in front when asked, and (when
// prefix) the name of the container of a multi-container job that wrote it.
func (a *app) writeLine(w io.Writer, m jetstream.Msg, timestamps, prefix bool) error {
	if timestamps {
		stamp := m.Headers().Get(events.HeaderLogTime)
		if t, err := time.Parse(time.RFC3339Nano, stamp); err == nil {
			loc := a.env.Location
			if loc == nil {
				loc = time.Local
			}
			stamp = t.In(loc).Format("2006-01-02T15:04:05.000")
		}
		if _, err := fmt.Fprintf(w, "%s ", stamp); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	if name := m.Headers().Get(events.HeaderContainer); prefix && name != "" {
		if _, err := fmt.Fprintf(w, "%s | ", name); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	if _, err := w.Write(m.Data()); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if _, err := w.Write([]byte{'\n'}); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// watchJob watches the job record and sends it on ended once it is final.
// It warns on stderr while the record does not exist.
func (a *app) watchJob(ctx context.Context, js jetstream.JetStream, jobID string, ended chan<- *batch.JobDetail) error {
	kv, err := js.KeyValue(ctx, events.BucketJobs)
	if err != nil {
		return fmt.Errorf("open bucket %s: %w", events.BucketJobs, err)
	}
	w, err := kv.Watch(ctx, events.Token(jobID))
	if err != nil {
		return fmt.Errorf("watch job %s: %w", jobID, err)
	}
	go func() {
		defer func() { _ = w.Stop() }()
		seen := false
		for {
			var e jetstream.KeyValueEntry
			var ok bool
			select {
			case <-ctx.Done():
				return
			case e, ok = <-w.Updates():
				if !ok {
					return
				}
			}
			if e == nil {
				if !seen {
					fmt.Fprintf(a.env.Stderr, "batchctl: job %s not found yet; waiting for it (Ctrl-C to stop)\n", jobID)
				}
				continue
			}
			if e.Operation() != jetstream.KeyValuePut {
				continue
			}
			seen = true
			var j batch.JobDetail
			if err := json.Unmarshal(e.Value(), &j); err != nil {
				continue
			}
			if j.Status.Final() {
				ended <- &j
				return
			}
		}
	}()
	return nil
}

// checkJobExists reports an error when a job with no lines has no record
// either, most likely a mistyped id.
func (a *app) checkJobExists(ctx context.Context, js jetstream.JetStream, jobID string) error {
	kv, err := js.KeyValue(ctx, events.BucketJobs)
	if err != nil {
		return fmt.Errorf("open bucket %s: %w", events.BucketJobs, err)
	}
	if _, err := kv.Get(ctx, events.Token(jobID)); errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("job %s not found", jobID)
	} else if err != nil {
		return fmt.Errorf("read job %s: %w", jobID, err)
	}
	return nil
}
