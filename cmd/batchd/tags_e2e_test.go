package main

import (
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
)

// TestJobTags tags a job through the whole system: the api stores a
// JobTagged fact, the monitor applies it to the record, and the record
// (ListTagsForResource, DescribeJobs) shows it, before and after the job
// finished.
func TestJobTags(t *testing.T) {
	d := startDaemon(t, "--host-vcpus", "2", "--host-memory", "2048")
	c := d.client()
	ctx := ctxT(t, 2*time.Minute)
	setupQueue(t, c, "tags", 2, "1", "32", "true")
	id := submit(t, c, &batch.SubmitJobInput{JobName: aws.String("tagged"), JobQueue: aws.String("tags-queue"), JobDefinition: aws.String("tags-def"),
		Tags: map[string]string{"from": "submit"}})
	arn := "arn:aws:batch:us-east-1:000000000000:job/" + id
	tagsOf := func() map[string]string {
		out, err := c.ListTagsForResource(ctx, &batch.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		return out.Tags
	}
	waitTags := func(want map[string]string) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for !maps.Equal(tagsOf(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("tags = %v, want %v", tagsOf(), want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if _, err := c.TagResource(ctx, &batch.TagResourceInput{ResourceArn: aws.String(arn), Tags: map[string]string{"team": "a", "env": "dev"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UntagResource(ctx, &batch.UntagResourceInput{ResourceArn: aws.String(arn), TagKeys: []string{"from"}}); err != nil {
		t.Fatal(err)
	}
	waitTags(map[string]string{"team": "a", "env": "dev"})

	j := waitFinal(t, c, time.Minute, id)[id]
	if j.Status != types.JobStatusSucceeded || !maps.Equal(j.Tags, map[string]string{"team": "a", "env": "dev"}) {
		t.Fatalf("job %s with tags %v", j.Status, j.Tags)
	}
	// A finished job can still be tagged; its status does not change.
	if _, err := c.TagResource(ctx, &batch.TagResourceInput{ResourceArn: aws.String(arn), Tags: map[string]string{"env": "prod"}}); err != nil {
		t.Fatal(err)
	}
	waitTags(map[string]string{"team": "a", "env": "prod"})
	if j := describe(t, c, id)[id]; j.Status != types.JobStatusSucceeded || fmt.Sprint(j.Tags) != fmt.Sprint(map[string]string{"env": "prod", "team": "a"}) {
		t.Fatalf("after tagging the finished job: %s %v", j.Status, j.Tags)
	}
}
