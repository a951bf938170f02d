package api

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/batchd/batchd/pkg/batch"
)

// Limits of the API, AWS's unless said otherwise.
const (
	maxNameLen        = 128
	maxTags           = 50
	maxTagKeyLen      = 128
	maxTagValueLen    = 256
	maxDependencies   = batch.MaxDependencies // AWS allows 20; batchd goes beyond (DESIGN §3)
	maxDescribeJobs   = 100
	maxDescribeItems  = 100
	maxListJobs       = 1000
	maxListFiltered   = 100
	maxAttempts       = 10
	maxEvaluateOnExit = 5
	maxPatternLen     = 512
	minTimeoutSeconds = 60
	maxPriority       = 1000
	maxSchedPriority  = 9999
	minArraySize      = 2
	maxArraySize      = 10000
	maxQueueEnvs      = 3
)

// Platform capabilities.
const (
	platformEC2     = "EC2"
	platformFargate = "FARGATE"
)

const nameRule = "1 to 128 letters, digits, hyphens (-) and underscores (_), starting with a letter or digit"

// validName reports whether s follows the AWS naming rule for jobs, queues,
// compute environments and job definitions.
func validName(s string) bool {
	if len(s) == 0 || len(s) > maxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '-' && c != '_') {
			return false
		}
	}
	return true
}

// checkName validates a name field.
func checkName(field, s string) error {
	if s == "" {
		return clientErr("%s is required: use %s", field, nameRule)
	}
	if !validName(s) {
		return clientErr("%s %q is invalid: use %s", field, s, nameRule)
	}
	return nil
}

// validJobID reports whether id can be a job id (a UUID, an array child
// "<id>:<index>", a node "<id>#<index>"): events.Token must make it a KV
// key and subject token.
func validJobID(id string) bool {
	if id == "" || len(id) > 200 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == ':' || c == '#') {
			return false
		}
	}
	return true
}

// present reports whether a raw JSON member was given (and is not null).
func present(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "null"
}

// orNil drops a JSON null so that it is not stored.
func orNil(raw json.RawMessage) json.RawMessage {
	if !present(raw) {
		return nil
	}
	return raw
}

// checkEnum validates an optional enumerated value.
func checkEnum(field, v string, allowed ...string) error {
	if v == "" || slices.Contains(allowed, v) {
		return nil
	}
	return clientErr("%s %q is invalid: use one of %s", field, v, strings.Join(allowed, ", "))
}

// checkTags validates a tag map.
func checkTags(field string, tags map[string]string) error {
	if len(tags) > maxTags {
		return clientErr("%s has %d tags: at most %d are allowed", field, len(tags), maxTags)
	}
	for k, v := range tags {
		if k == "" || len(k) > maxTagKeyLen {
			return clientErr("%s key %q is invalid: keys are 1 to %d characters", field, k, maxTagKeyLen)
		}
		if len(v) > maxTagValueLen {
			return clientErr("%s value of %q is %d characters: at most %d are allowed", field, k, len(v), maxTagValueLen)
		}
		if len(k) >= 4 && strings.EqualFold(k[:4], "aws:") {
			return clientErr("%s key %q is invalid: the aws: prefix is reserved for AWS use", field, k)
		}
	}
	return nil
}

// checkEnvironment validates environment variables.
func checkEnvironment(field string, env []batch.KeyValuePair) error {
	for _, kv := range env {
		if kv.Name == "" {
			return clientErr("%s has a variable without a name: every entry needs a name", field)
		}
		if strings.HasPrefix(kv.Name, "AWS_BATCH") {
			return clientErr("%s variable %s is not allowed: names starting with AWS_BATCH are reserved for the variables Batch sets", field, kv.Name)
		}
	}
	return nil
}

// checkPlatforms validates platformCapabilities and reports whether the job
// runs on Fargate.
func checkPlatforms(caps []string) (fargate bool, err error) {
	for _, c := range caps {
		switch c {
		case platformEC2:
		case platformFargate:
			fargate = true
		default:
			return false, clientErr("platformCapabilities value %q is invalid: use EC2 or FARGATE", c)
		}
	}
	if fargate && slices.Contains(caps, platformEC2) {
		return false, clientErr("platformCapabilities lists both EC2 and FARGATE: a job definition runs on one of them")
	}
	return fargate, nil
}

// fargateMemory lists the MEMORY values (MiB) Fargate allows for a VCPU value.
func fargateMemory(vcpu float64) []int64 {
	steps := func(from, to, step int64) []int64 {
		var out []int64
		for m := from; m <= to; m += step {
			out = append(out, m)
		}
		return out
	}
	switch vcpu {
	case 0.25:
		return []int64{512, 1024, 2048}
	case 0.5:
		return steps(1024, 4096, 1024)
	case 1:
		return steps(2048, 8192, 1024)
	case 2:
		return steps(4096, 16384, 1024)
	case 4:
		return steps(8192, 30720, 1024)
	case 8:
		return steps(16384, 61440, 4096)
	case 16:
		return steps(32768, 122880, 8192)
	}
	return nil
}

func joinInts(v []int64) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.FormatInt(n, 10)
	}
	return strings.Join(s, ", ")
}

// checkResources validates the resources of a container: the types are
// known and not repeated, VCPU and MEMORY are present (in resourceRequirements
// or the deprecated vcpus/memory), and the values suit the platform.
func checkResources(field string, reqs []batch.ResourceRequirement, vcpus, memory int, fargate bool) (batch.Resources, error) {
	seen := map[string]bool{}
	for _, r := range reqs {
		if seen[r.Type] {
			return batch.Resources{}, clientErr("%s.resourceRequirements lists %s twice: give each type once", field, r.Type)
		}
		seen[r.Type] = true
	}
	if vcpus < 0 || memory < 0 {
		return batch.Resources{}, clientErr("%s: vcpus and memory must not be negative", field)
	}
	res, err := batch.ParseResources(reqs, vcpus, memory)
	if err != nil {
		return res, clientErr("%s: %v", field, err)
	}
	if res.VCPUs <= 0 {
		return res, clientErr(`%s has no VCPU: add {"type":"VCPU","value":"1"} to resourceRequirements (or set the deprecated vcpus) with the number of vCPUs the job needs`, field)
	}
	if res.MemoryMiB <= 0 {
		return res, clientErr(`%s has no MEMORY: add {"type":"MEMORY","value":"2048"} to resourceRequirements (or set the deprecated memory) with the MiB the job needs, at least 4`, field)
	}
	if res.MemoryMiB < 4 {
		return res, clientErr("%s MEMORY %d MiB is too small: at least 4 MiB are required", field, res.MemoryMiB)
	}
	v := strconv.FormatFloat(res.VCPUs, 'f', -1, 64)
	if fargate {
		if res.GPUs > 0 {
			return res, clientErr("%s asks for GPU, which is not available on FARGATE: use platformCapabilities EC2 for GPU jobs", field)
		}
		mems := fargateMemory(res.VCPUs)
		if mems == nil {
			return res, clientErr("%s VCPU %s is not a Fargate size: use one of 0.25, 0.5, 1, 2, 4, 8, 16", field, v)
		}
		if !slices.Contains(mems, res.MemoryMiB) {
			return res, clientErr("%s MEMORY %d MiB does not go with %s vCPU on Fargate: use one of %s", field, res.MemoryMiB, v, joinInts(mems))
		}
		return res, nil
	}
	if res.VCPUs < 1 || res.VCPUs != math.Trunc(res.VCPUs) {
		return res, clientErr("%s VCPU %s is invalid on EC2: use a whole number of at least 1 (fractional sizes such as 0.25 need platformCapabilities FARGATE)", field, v)
	}
	return res, nil
}

// checkTimeout validates a job timeout; zero means none.
func checkTimeout(field string, t *batch.JobTimeout) error {
	if t == nil || t.AttemptDurationSeconds == 0 {
		return nil
	}
	if t.AttemptDurationSeconds < minTimeoutSeconds {
		return clientErr("%s.attemptDurationSeconds %d is too short: use at least %d seconds", field, t.AttemptDurationSeconds, minTimeoutSeconds)
	}
	return nil
}

// normalizeTimeout drops an empty timeout.
func normalizeTimeout(t *batch.JobTimeout) *batch.JobTimeout {
	if t == nil || t.AttemptDurationSeconds == 0 {
		return nil
	}
	c := *t
	return &c
}

// normalizeRetryStrategy validates a retry strategy and returns a copy with
// the actions in upper case (AWS accepts them in any case).
func normalizeRetryStrategy(field string, rs *batch.RetryStrategy) (*batch.RetryStrategy, error) {
	if rs == nil {
		return nil, nil
	}
	if rs.Attempts < 0 || rs.Attempts > maxAttempts {
		return nil, clientErr("%s.attempts %d is out of range: use 1 to %d", field, rs.Attempts, maxAttempts)
	}
	if len(rs.EvaluateOnExit) > 0 && rs.Attempts == 0 {
		return nil, clientErr("%s.evaluateOnExit needs %s.attempts: RetryAttempts must be provided with retry strategy (1 to %d)", field, field, maxAttempts)
	}
	if len(rs.EvaluateOnExit) > maxEvaluateOnExit {
		return nil, clientErr("%s.evaluateOnExit has %d entries: at most %d are allowed", field, len(rs.EvaluateOnExit), maxEvaluateOnExit)
	}
	out := &batch.RetryStrategy{Attempts: rs.Attempts}
	for i, e := range rs.EvaluateOnExit {
		f := fmt.Sprintf("%s.evaluateOnExit[%d]", field, i)
		e.Action = strings.ToUpper(e.Action)
		if e.Action != "RETRY" && e.Action != "EXIT" {
			return nil, clientErr("%s.action %q is invalid: use RETRY or EXIT", f, rs.EvaluateOnExit[i].Action)
		}
		if err := checkPattern(f+".onStatusReason", e.OnStatusReason, reasonChar, "letters, digits, periods (.), colons (:) and white space"); err != nil {
			return nil, err
		}
		if err := checkPattern(f+".onReason", e.OnReason, reasonChar, "letters, digits, periods (.), colons (:) and white space"); err != nil {
			return nil, err
		}
		if err := checkPattern(f+".onExitCode", e.OnExitCode, digitChar, "digits"); err != nil {
			return nil, err
		}
		out.EvaluateOnExit = append(out.EvaluateOnExit, e)
	}
	return out, nil
}

func reasonChar(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == ':' ||
		c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

func digitChar(c rune) bool { return c >= '0' && c <= '9' }

// checkPattern validates an evaluateOnExit glob: allowed characters and an
// optional trailing * for a prefix match.
func checkPattern(field, p string, ok func(rune) bool, allowed string) error {
	if len(p) > maxPatternLen {
		return clientErr("%s is %d characters: at most %d are allowed", field, len(p), maxPatternLen)
	}
	body := strings.TrimSuffix(p, "*")
	for _, c := range body {
		if !ok(c) {
			return clientErr("%s %q is invalid: use %s, optionally ending with * for a prefix match", field, p, allowed)
		}
	}
	return nil
}

// checkDependencies validates dependsOn of a job (isArray: an array job).
func checkDependencies(deps []batch.JobDependency, isArray bool) error {
	if len(deps) > maxDependencies {
		return clientErr("dependsOn has %d entries: at most %d are allowed", len(deps), maxDependencies)
	}
	for i, d := range deps {
		f := fmt.Sprintf("dependsOn[%d]", i)
		switch d.Type {
		case "":
			if d.JobID == "" {
				return clientErr("%s has no jobId: give the id of the job to wait for", f)
			}
		case "N_TO_N":
			if !isArray {
				return clientErr("%s type N_TO_N applies only to array jobs (arrayProperties)", f)
			}
			if d.JobID == "" {
				return clientErr("%s type N_TO_N needs the jobId of an array job of the same size", f)
			}
		case "SEQUENTIAL":
			if !isArray {
				return clientErr("%s type SEQUENTIAL applies only to array jobs (arrayProperties)", f)
			}
			if d.JobID != "" {
				return clientErr("%s type SEQUENTIAL makes the children of this array job run one after another: leave jobId out", f)
			}
		default:
			return clientErr("%s type %q is invalid: use N_TO_N or SEQUENTIAL, or leave it out", f, d.Type)
		}
		if d.JobID != "" && !validJobID(d.JobID) {
			return clientErr("%s jobId %q is not a job id", f, d.JobID)
		}
		switch d.Condition {
		case "", batch.ConditionSucceeded, batch.ConditionAny:
		default:
			return clientErr("%s condition %q is invalid: use SUCCEEDED (the default: the dependency must succeed) or ANY (it must finish, whatever its outcome)", f, d.Condition)
		}
	}
	return nil
}

// Time limit bounds: AWS's for queue actions, this system's for a job's own.
const (
	minQueueTimeLimit = 600
	maxQueueTimeLimit = 86400
	maxJobTimeLimit   = 7 * 86400
	maxTimeLimits     = 10
)

// checkTimeLimitActions validates jobStateTimeLimitActions: AWS's rules
// (state RUNNABLE, action CANCEL, maxTimeSeconds 600 to 86400, a reason)
// plus this system's additions (state PENDING, action TERMINATE, reason
// "*"). A job's own limits (forJob) may be as short as 1 second.
func checkTimeLimitActions(field string, acts []batch.JobStateTimeLimitAction, forJob bool) error {
	if len(acts) > maxTimeLimits {
		return clientErr("%s has %d entries: at most %d are allowed", field, len(acts), maxTimeLimits)
	}
	for i, a := range acts {
		f := fmt.Sprintf("%s[%d]", field, i)
		if a.State != string(batch.StatusRunnable) && a.State != string(batch.StatusPending) {
			return clientErr("%s.state %q is invalid: use RUNNABLE or PENDING", f, a.State)
		}
		if a.Action != batch.TimeLimitCancel && a.Action != batch.TimeLimitTerminate {
			return clientErr("%s.action %q is invalid: use CANCEL or TERMINATE", f, a.Action)
		}
		lo, hi := minQueueTimeLimit, maxQueueTimeLimit
		if forJob {
			lo, hi = 1, maxJobTimeLimit
		}
		if a.MaxTimeSeconds < lo || a.MaxTimeSeconds > hi {
			return clientErr("%s.maxTimeSeconds %d is out of range: use %d to %d", f, a.MaxTimeSeconds, lo, hi)
		}
		if a.Reason == "" && !forJob {
			return clientErr("%s.reason is required: give the statusReason code to act on, for example MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT, or * for any", f)
		}
		if len(a.Reason) > maxPatternLen {
			return clientErr("%s.reason is %d characters: at most %d are allowed", f, len(a.Reason), maxPatternLen)
		}
	}
	return nil
}

// checkQueueTimeLimits validates a queue's jobStateTimeLimitActions (kept
// as the JSON given).
func checkQueueTimeLimits(raw json.RawMessage) error {
	if !present(raw) {
		return nil
	}
	var acts []batch.JobStateTimeLimitAction
	if err := json.Unmarshal(raw, &acts); err != nil {
		return clientErr("jobStateTimeLimitActions must be a list of {reason, state, maxTimeSeconds, action}: %v", err)
	}
	return checkTimeLimitActions("jobStateTimeLimitActions", acts, false)
}

// checkClientToken validates SubmitJob's clientToken: 1 to 64 printable
// ASCII characters.
func checkClientToken(tok string) error {
	if len(tok) > maxClientToken {
		return clientErr("clientToken is %d characters: at most %d are allowed", len(tok), maxClientToken)
	}
	for _, c := range tok {
		if c < 0x21 || c > 0x7e {
			return clientErr("clientToken %q is invalid: use printable ASCII characters without spaces", tok)
		}
	}
	return nil
}
