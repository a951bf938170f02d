package cli

import (
	"reflect"
	"strings"

	"github.com/batchd/batchd/cmd/batchctl/internal/param"
	"github.com/spf13/cobra"
)

// nargsAnnotation marks list flags that, like aws-cli's, take every value
// that follows them up to the next flag ("--jobs a b c").
const nargsAnnotation = "batchctl_nargs"

// paramFlags are the flags of an operation, one per field of its SDK
// input, named as aws-cli names them.
type paramFlags struct {
	op       *operation
	params   []paramFlag
	input    string // --cli-input-json
	skeleton bool   // --generate-cli-skeleton
}

type paramFlag struct {
	field  reflect.StructField
	wire   string
	flag   string
	values *rawValues // nil for booleans
}

// rawValues collects every value given to a flag; Decode gives them a type.
type rawValues struct {
	vals []string
	hint string
}

func (v *rawValues) String() string     { return strings.Join(v.vals, " ") }
func (v *rawValues) Set(s string) error { v.vals = append(v.vals, s); return nil }
func (v *rawValues) Type() string       { return v.hint }

// descriptions of the common parameters, by wire name.
var descriptions = map[string]string{
	"jobName":                 "name of the job",
	"jobQueue":                "job queue, by name or ARN",
	"jobDefinition":           "job definition: name, name:revision or ARN",
	"parameters":              "values of Ref:: placeholders: JSON or key=value,...",
	"containerOverrides":      "changes to the container: JSON or shorthand (command=[a,b],environment=[{name=K,value=V}])",
	"dependsOn":               "jobs to wait for: JSON list, or one jobId=ID[,type=N_TO_N|SEQUENTIAL] per value",
	"arrayProperties":         "make an array job: JSON or size=N",
	"retryStrategy":           "attempts and retry conditions: JSON or attempts=N",
	"timeout":                 "time limit of each attempt: JSON or attemptDurationSeconds=N",
	"tags":                    "tags: JSON or key=value,...",
	"jobs":                    "job ids or ARNs",
	"jobStatus":               "only jobs in this status",
	"maxResults":              "the most results per call (turns off automatic paging)",
	"nextToken":               "the token of the page to get (turns off automatic paging)",
	"filters":                 "filters: JSON list, or name=JOB_NAME,values=pattern per value",
	"computeEnvironmentName":  "name of the compute environment",
	"computeEnvironment":      "compute environment, by name or ARN",
	"computeEnvironments":     "compute environments, by name or ARN",
	"computeResources":        "managed capacity: JSON or shorthand (type=EC2,maxvCpus=8)",
	"type":                    "type",
	"state":                   "ENABLED or DISABLED",
	"jobQueueName":            "name of the job queue",
	"jobQueues":               "job queues, by name or ARN",
	"priority":                "priority of the queue; higher runs first",
	"computeEnvironmentOrder": "compute environments in order: JSON list, or order=N,computeEnvironment=NAME per value",
	"jobDefinitionName":       "name of the job definition",
	"jobDefinitions":          "job definitions: name:revision or ARN",
	"containerProperties":     "the container: JSON or shorthand (image=IMG,command=[a,b])",
	"jobId":                   "job id or ARN",
	"reason":                  "why, shown in the job's statusReason",
	"arrayJobId":              "list the children of this array job",
	"status":                  "ACTIVE or INACTIVE",

	"schedulingPriority":                   "scheduling priority of the definition's jobs in a fair-share queue",
	"schedulingPriorityOverride":           "scheduling priority of this job in a fair-share queue",
	"shareIdentifier":                      "fair-share identifier of the job",
	"propagateTags":                        "copy the tags to the job's tasks",
	"platformCapabilities":                 "platforms the definition runs on: EC2 or FARGATE",
	"schedulingPolicyArn":                  "ARN of the fair-share scheduling policy",
	"jobStateTimeLimitActions":             "actions on jobs stuck in a state: JSON list",
	"serviceEnvironmentOrder":              "service environments in order: JSON list",
	"multiNodeJobId":                       "list the nodes of this multi-node parallel job",
	"unmanagedvCpus":                       "vCPUs of an unmanaged environment",
	"serviceRole":                          "IAM role of the environment (accepted and kept)",
	"updatePolicy":                         "update policy: JSON",
	"context":                              "free text kept with the environment",
	"eksConfiguration":                     "EKS cluster of the environment: JSON",
	"nodeProperties":                       "multi-node parallel job properties: JSON",
	"nodeOverrides":                        "changes to a multi-node parallel job: JSON",
	"ecsProperties":                        "multi-container job properties: JSON",
	"ecsPropertiesOverride":                "changes to a multi-container job: JSON",
	"eksProperties":                        "EKS pod properties: JSON",
	"eksPropertiesOverride":                "changes to the EKS pod: JSON",
	"consumableResourceProperties":         "consumable resources the jobs need: JSON",
	"consumableResourcePropertiesOverride": "changes to the consumable resources: JSON",

	"name":                   "name of the scheduling policy",
	"arn":                    "ARN of the scheduling policy",
	"arns":                   "ARNs of the scheduling policies",
	"fairsharePolicy":        "fair-share settings: JSON or shorthand (shareDecaySeconds=N,computeReservation=N,shareDistribution=[{shareIdentifier=A,weightFactor=0.5}])",
	"quotaSharePolicy":       "quota-share settings (not supported)",
	"consumableResourceName": "name of the consumable resource",
	"consumableResource":     "consumable resource, by name or ARN",
	"totalQuantity":          "total quantity of the resource",
	"resourceType":           "REPLENISHABLE (returned when a job ends, the default) or NON_REPLENISHABLE",
	"operation":              "SET, ADD or REMOVE",
	"quantity":               "the new total (SET) or the amount to ADD or REMOVE",
	"clientToken":            "makes the update idempotent for 8 hours",
	"resourceArn":            "ARN of the resource",
	"tagKeys":                "keys of the tags to remove",

	"ruleName":     "name of the notification rule",
	"ruleNames":    "notification rules, by name",
	"eventPattern": `EventBridge event pattern as JSON, e.g. '{"detail":{"status":["FAILED"]}}'`,
	"targets":      "targets: JSON list, or id=ID,type=WEBHOOK|NATS,endpoint=URL_OR_SUBJECT[,secret=S] per value",
	"description":  "free text kept with the rule",
	"targetId":     "only the dead letters of this target of the rule",
	"ids":          "ids of the dead letters (see list-dead-letters)",
	"all":          "every dead letter (of --rule-name and --target-id when given)",
}

// newParamFlags registers the flags of op on cmd.
func newParamFlags(op *operation, cmd *cobra.Command) *paramFlags {
	pf := &paramFlags{op: op}
	fs := cmd.Flags()
	required := map[string]bool{}
	for _, w := range op.required {
		required[w] = true
	}
	for _, f := range param.Fields(op.input) {
		wire := param.WireName(f)
		p := paramFlag{field: f, wire: wire, flag: param.FlagName(wire)}
		desc := descriptions[wire]
		if desc == "" {
			desc = wire
		}
		if vals := enumValues(f.Type); len(vals) > 0 {
			desc += " (one of " + strings.Join(vals, ", ") + ")"
		}
		if required[wire] {
			desc += " (required)"
		}
		base := f.Type
		for base.Kind() == reflect.Pointer {
			base = base.Elem()
		}
		if base.Kind() == reflect.Bool {
			fs.Bool(p.flag, false, desc)
			fs.Bool("no-"+p.flag, false, "the opposite of --"+p.flag)
			pf.params = append(pf.params, p)
			continue
		}
		p.values = &rawValues{hint: typeHint(base)}
		fs.Var(p.values, p.flag, desc)
		if base.Kind() == reflect.Slice {
			_ = fs.SetAnnotation(p.flag, nargsAnnotation, []string{"true"})
		}
		pf.params = append(pf.params, p)
	}
	fs.StringVar(&pf.input, "cli-input-json", "", "the whole request as JSON (or file://PATH); flags override its fields")
	fs.BoolVar(&pf.skeleton, "generate-cli-skeleton", false, "print a JSON template of the request for --cli-input-json")
	return pf
}

func typeHint(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice:
		e := t.Elem()
		for e.Kind() == reflect.Pointer {
			e = e.Elem()
		}
		if e.Kind() == reflect.Struct {
			return "structures"
		}
		return "strings"
	case reflect.Map:
		return "map"
	}
	return "structure"
}

// enumValues lists the values of an SDK enum type (one with a Values
// method), or nil.
func enumValues(t reflect.Type) []string {
	m, ok := t.MethodByName("Values")
	if !ok || m.Type.NumIn() != 1 || m.Type.NumOut() != 1 || m.Type.Out(0).Kind() != reflect.Slice {
		return nil
	}
	out := m.Func.Call([]reflect.Value{reflect.Zero(t)})[0]
	vals := make([]string, out.Len())
	for i := range vals {
		vals[i] = out.Index(i).String()
	}
	return vals
}

// build makes the request: --cli-input-json first, then each flag given,
// then bare arguments added to the positional list; it checks that the
// required parameters are there.
func (pf *paramFlags) build(cmd *cobra.Command, args []string) (reflect.Value, error) {
	in := reflect.New(pf.op.input)
	if pf.input != "" {
		text, err := param.Load(pf.input)
		if err != nil {
			return in, usagef(cmd, "--cli-input-json: %v", err)
		}
		if err := param.StrictUnmarshal([]byte(text), in.Interface()); err != nil {
			return in, usagef(cmd, "--cli-input-json: %v", err)
		}
	}
	fs := cmd.Flags()
	for _, p := range pf.params {
		field := in.Elem().FieldByIndex(p.field.Index)
		if p.values == nil {
			yes, no := fs.Changed(p.flag), fs.Changed("no-"+p.flag)
			if yes && no {
				return in, usagef(cmd, "--%s and --no-%s cannot be used together", p.flag, p.flag)
			}
			if yes || no {
				v, _ := fs.GetBool(p.flag)
				if no {
					v = false
				}
				setBool(field, v)
			}
			continue
		}
		if len(p.values.vals) == 0 {
			continue
		}
		v, err := param.Decode(p.field.Type, p.values.vals)
		if err != nil {
			return in, usagef(cmd, "argument --%s: %v", p.flag, err)
		}
		field.Set(v)
	}
	if len(args) > 0 {
		if err := pf.addPositional(cmd, in, args); err != nil {
			return in, err
		}
	}
	var missing []string
	for _, p := range pf.params {
		for _, w := range pf.op.required {
			if w == p.wire && in.Elem().FieldByIndex(p.field.Index).IsZero() {
				missing = append(missing, "--"+p.flag)
			}
		}
	}
	if len(missing) > 0 {
		return in, usagef(cmd, "the following arguments are required: %s", strings.Join(missing, ", "))
	}
	return in, nil
}

func (pf *paramFlags) addPositional(cmd *cobra.Command, in reflect.Value, args []string) error {
	for _, p := range pf.params {
		if p.wire != pf.op.positional {
			continue
		}
		v, err := param.Decode(p.field.Type, args)
		if err != nil {
			return usagef(cmd, "argument --%s: %v", p.flag, err)
		}
		field := in.Elem().FieldByIndex(p.field.Index)
		field.Set(reflect.AppendSlice(field, v))
		return nil
	}
	return usagef(cmd, "unexpected arguments: %s", strings.Join(args, " "))
}

func setBool(field reflect.Value, v bool) {
	if field.Kind() == reflect.Pointer {
		field.Set(reflect.ValueOf(&v))
		return
	}
	field.SetBool(v)
}

// expandNargs rewrites "--jobs a b c" as "--jobs a --jobs=b --jobs=c" for
// the list flags of the command args run, as aws-cli's nargs='+' does.
func expandNargs(root *cobra.Command, args []string) []string {
	cmd, _, err := root.Find(args)
	if err != nil || cmd == nil {
		return args
	}
	out := make([]string, 0, len(args))
	current := ""         // the list flag whose values are being read
	valuePending := false // the previous token was "--flag" and wants its value
	for i, a := range args {
		if a == "--" {
			out = append(out, args[i:]...)
			break
		}
		if strings.HasPrefix(a, "-") && len(a) > 1 {
			current, valuePending = "", false
			name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
			if f := cmd.Flags().Lookup(name); f != nil && strings.HasPrefix(a, "--") {
				if _, ok := f.Annotations[nargsAnnotation]; ok {
					current, valuePending = name, !hasValue
				}
			}
			out = append(out, a)
			continue
		}
		if current != "" && !valuePending {
			out = append(out, "--"+current+"="+a)
			continue
		}
		valuePending = false
		out = append(out, a)
	}
	return out
}
