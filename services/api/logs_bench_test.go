package api

import (
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/batchd/batchd/pkg/events"
)

// The CloudWatch Logs reads with many jobs in BATCH_LOGS: 500 jobs of 200
// lines each, interleaved with one job of 50,000 lines (10 of its lines,
// then 2 of every other job's, and so on). go test -run x -bench Logs.

func benchLogs(b *testing.B) (*testAPI, *cwl.Client, string) {
	a := startAPI(b, nil, Config{})
	big := events.LogSubject("job-big", 1)
	for round := 0; round < 100; round++ {
		for j := 0; j < 5; j++ {
			a.storeLines(b, big, "big", (round*5+j)*100, 100)
		}
		for j := 0; j < 500; j++ {
			a.storeLines(b, events.LogSubject(fmt.Sprintf("job-%d", j), 1), "small", round*2, 2)
		}
	}
	return a, logsClient(a.http.URL, "AKID", "SECRET"), big
}

func BenchmarkLogs(b *testing.B) {
	_, c, big := benchLogs(b)
	small := events.LogSubject("job-7", 1)
	for _, bc := range []struct {
		name   string
		stream string
		head   bool
		events int
	}{
		{"GetLogEvents/head/10000of50000", big, true, 10000},
		{"GetLogEvents/latest/10000of50000", big, false, 10000},
		{"GetLogEvents/head/200", small, true, 200},
		{"GetLogEvents/latest/200", small, false, 200},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				out, err := c.GetLogEvents(b.Context(), &cwl.GetLogEventsInput{LogGroupName: logGroup(), LogStreamName: aws.String(bc.stream), StartFromHead: aws.Bool(bc.head)})
				if err != nil || len(out.Events) != bc.events {
					b.Fatalf("%v, %d events", err, len(out.Events))
				}
			}
		})
	}
	b.Run("FilterLogEvents/one-job-prefix", func(b *testing.B) {
		for b.Loop() {
			out, err := c.FilterLogEvents(b.Context(), &cwl.FilterLogEventsInput{LogGroupName: logGroup(), LogStreamNamePrefix: aws.String("batch.logs.job-7."), FilterPattern: aws.String("small")})
			if err != nil || len(out.Events) != 200 {
				b.Fatalf("%v, %d events", err, len(out.Events))
			}
		}
	})
}
