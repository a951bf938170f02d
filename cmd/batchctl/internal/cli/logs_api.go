package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/batchd/batchd/pkg/events"
)

// logGroup is the log group of job output on batchd's CloudWatch Logs API.
const logGroup = "/aws/batch/job"

// logsClient is the CloudWatch Logs client of the endpoint, set up as
// client is (sdkConfig).
func (a *app) logsClient() *cwl.Client {
	cfg := a.sdkConfig()
	return cwl.New(cwl.Options{Region: cfg.Region, BaseEndpoint: cfg.BaseEndpoint, Credentials: cfg.Credentials,
		RetryMaxAttempts: cfg.RetryMaxAttempts, ClientLogMode: cfg.ClientLogMode, Logger: cfg.Logger})
}

// runLogsAPI prints the job's lines read through the CloudWatch Logs API
// (--api): FilterLogEvents over the job's log streams (every attempt and
// container), in the order stored, the attempt and container chosen by
// the flags. It needs logs:FilterLogEvents (and batch:DescribeJobs to say
// that a job without lines does not exist).
func (a *app) runLogsAPI(ctx context.Context, jobID string, o logsOptions) error {
	out := bufio.NewWriter(a.env.Stdout)
	defer out.Flush()
	p := cwl.NewFilterLogEventsPaginator(a.logsClient(), &cwl.FilterLogEventsInput{
		LogGroupName:        aws.String(logGroup),
		LogStreamNamePrefix: aws.String(strings.TrimSuffix(events.LogFilter(jobID), ">")),
	})
	printed := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return a.callError("FilterLogEvents", err)
		}
		for _, e := range page.Events {
			ls, ok := events.ParseLogSubject(aws.ToString(e.LogStreamName))
			if !ok || o.attempt >= 0 && ls.Attempt != o.attempt || o.container != "" && ls.Container != o.container {
				continue
			}
			name := ""
			if o.container == "" {
				name = ls.Container
			}
			if err := a.printLine(out, time.UnixMilli(aws.ToInt64(e.Timestamp)), o.timestamps, name, aws.ToString(e.Message)); err != nil {
				return err
			}
			printed++
		}
	}
	if printed == 0 {
		res, err := a.client().DescribeJobs(ctx, &batch.DescribeJobsInput{Jobs: []string{jobID}})
		if err == nil && len(res.Jobs) == 0 {
			return fmt.Errorf("job %s not found", jobID)
		}
	}
	return out.Flush()
}

// printLine prints one line: its time when asked, the container's name
// when given, the text.
func (a *app) printLine(w io.Writer, at time.Time, timestamps bool, container, text string) error {
	if timestamps {
		loc := a.env.Location
		if loc == nil {
			loc = time.Local
		}
		if _, err := fmt.Fprintf(w, "%s ", at.In(loc).Format("2006-01-02T15:04:05.000")); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	if container != "" {
		if _, err := fmt.Fprintf(w, "%s | ", container); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	if _, err := fmt.Fprintf(w, "%s\n", text); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}
