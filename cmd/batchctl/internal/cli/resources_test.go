package cli

import (
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestResourceOperationsSendTheAWSRequests checks the subcommands of the
// delete, scheduling policy, consumable resource, tag and snapshot
// operations: aws-cli's flags in, the AWS request out (method, path,
// query and body).
func TestResourceOperationsSendTheAWSRequests(t *testing.T) {
	api, srv := newFakeAPI(t)
	api.handle = func(string, map[string]any) answer { return answer{body: `{}`} }
	policy := "arn:aws:batch:us-east-1:000000000000:scheduling-policy/fair"
	queueArn := "arn:aws:batch:us-east-1:000000000000:job-queue/q"
	for _, tc := range []struct {
		args         []string
		method, path string
		query        string
		body         string
	}{
		{[]string{"delete-compute-environment", "--compute-environment", "ce"}, "POST", "/v1/deletecomputeenvironment", "", `{"computeEnvironment":"ce"}`},
		{[]string{"delete-job-queue", "--job-queue", "q"}, "POST", "/v1/deletejobqueue", "", `{"jobQueue":"q"}`},
		{[]string{"deregister-job-definition", "--job-definition", "echo:2"}, "POST", "/v1/deregisterjobdefinition", "", `{"jobDefinition":"echo:2"}`},
		{[]string{"create-scheduling-policy", "--name", "fair", "--fairshare-policy", "shareDecaySeconds=600,computeReservation=10,shareDistribution=[{shareIdentifier=A*,weightFactor=0.5}]"},
			"POST", "/v1/createschedulingpolicy", "", `{"name":"fair","fairsharePolicy":{"shareDecaySeconds":600,"computeReservation":10,"shareDistribution":[{"shareIdentifier":"A*","weightFactor":0.5}]}}`},
		{[]string{"describe-scheduling-policies", "--arns", policy}, "POST", "/v1/describeschedulingpolicies", "", `{"arns":["` + policy + `"]}`},
		{[]string{"list-scheduling-policies", "--max-results", "5"}, "POST", "/v1/listschedulingpolicies", "", `{"maxResults":5}`},
		{[]string{"update-scheduling-policy", "--arn", policy, "--fairshare-policy", `{"computeReservation":20}`}, "POST", "/v1/updateschedulingpolicy", "", `{"arn":"` + policy + `","fairsharePolicy":{"computeReservation":20}}`},
		{[]string{"delete-scheduling-policy", "--arn", policy}, "POST", "/v1/deleteschedulingpolicy", "", `{"arn":"` + policy + `"}`},
		{[]string{"create-consumable-resource", "--consumable-resource-name", "lic", "--total-quantity", "10", "--resource-type", "REPLENISHABLE"},
			"POST", "/v1/createconsumableresource", "", `{"consumableResourceName":"lic","totalQuantity":10,"resourceType":"REPLENISHABLE"}`},
		{[]string{"describe-consumable-resource", "--consumable-resource", "lic"}, "POST", "/v1/describeconsumableresource", "", `{"consumableResource":"lic"}`},
		{[]string{"list-consumable-resources", "--filters", "name=CONSUMABLE_RESOURCE_NAME,values=li*"}, "POST", "/v1/listconsumableresources", "", `{"filters":[{"name":"CONSUMABLE_RESOURCE_NAME","values":["li*"]}]}`},
		{[]string{"update-consumable-resource", "--consumable-resource", "lic", "--operation", "ADD", "--quantity", "2", "--client-token", "t1"},
			"POST", "/v1/updateconsumableresource", "", `{"consumableResource":"lic","operation":"ADD","quantity":2,"clientToken":"t1"}`},
		{[]string{"delete-consumable-resource", "--consumable-resource", "lic"}, "POST", "/v1/deleteconsumableresource", "", `{"consumableResource":"lic"}`},
		{[]string{"list-jobs-by-consumable-resource", "--consumable-resource", "lic", "--filters", "name=JOB_STATUS,values=RUNNING"},
			"POST", "/v1/listjobsbyconsumableresource", "", `{"consumableResource":"lic","filters":[{"name":"JOB_STATUS","values":["RUNNING"]}]}`},
		{[]string{"tag-resource", "--resource-arn", queueArn, "--tags", "team=a,env=prod"}, "POST", "/v1/tags/" + queueArn, "", `{"tags":{"team":"a","env":"prod"}}`},
		{[]string{"untag-resource", "--resource-arn", queueArn, "--tag-keys", "team", "env"}, "DELETE", "/v1/tags/" + queueArn, "tagKeys=env&tagKeys=team", ``},
		{[]string{"list-tags-for-resource", "--resource-arn", queueArn}, "GET", "/v1/tags/" + queueArn, "", ``},
		{[]string{"get-job-queue-snapshot", "--job-queue", "q"}, "POST", "/v1/getjobqueuesnapshot", "", `{"jobQueue":"q"}`},
	} {
		before := len(api.requests())
		r := runCLI(t, srv.URL, tc.args...)
		if r.code != 0 {
			t.Errorf("%s: exit %d, stderr %q", tc.args[0], r.code, r.stderr)
			continue
		}
		reqs := api.requests()[before:]
		if len(reqs) != 1 || reqs[0].Method != tc.method || reqs[0].Path != tc.path {
			t.Errorf("%s: requests %+v, want one %s %s", tc.args[0], reqs, tc.method, tc.path)
			continue
		}
		q, _ := url.ParseQuery(reqs[0].Query)
		for _, v := range q {
			slices.Sort(v)
		}
		if q.Encode() != tc.query {
			t.Errorf("%s: query %q, want %q", tc.args[0], reqs[0].Query, tc.query)
		}
		if tc.body != "" {
			assertJSONEqual(t, reqs[0].Body, tc.body)
		}
	}
}

// TestMaxRunningJobsAddition checks --max-running-jobs, which the AWS SDK
// cannot send: it is added to the JSON body the SDK serialized.
func TestMaxRunningJobsAddition(t *testing.T) {
	api, srv := newFakeAPI(t)
	api.handle = func(string, map[string]any) answer { return answer{body: `{"jobQueueName":"q","jobQueueArn":"a"}`} }
	r := runCLI(t, srv.URL, "create-job-queue", "--job-queue-name", "q", "--priority", "1", "--compute-environment-order", "order=1,computeEnvironment=ce", "--max-running-jobs", "3")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	assertJSONEqual(t, api.requests()[0].Body, `{"jobQueueName":"q","priority":1,"computeEnvironmentOrder":[{"order":1,"computeEnvironment":"ce"}],"maxRunningJobs":3}`)
	if r := runCLI(t, srv.URL, "update-job-queue", "--job-queue", "q", "--max-running-jobs", "0"); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	assertJSONEqual(t, api.requests()[1].Body, `{"jobQueue":"q","maxRunningJobs":0}`)
	if r := runCLI(t, srv.URL, "update-job-queue", "--job-queue", "q"); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	assertJSONEqual(t, api.requests()[2].Body, `{"jobQueue":"q"}`)
	if r := runCLI(t, srv.URL, "update-job-queue", "--job-queue", "q", "--max-running-jobs", "many"); r.code != ExitUsage || !strings.Contains(r.stderr, `argument --max-running-jobs: invalid integer value "many"`) {
		t.Fatalf("bad value: exit %d: %s", r.code, r.stderr)
	}
}
