package scheduler

import (
	"github.com/batchd/batchd/pkg/batch"
	"github.com/segmentio/encoding/json"
)

// schedRecord is the part of a job record the planner uses (planJob): the
// scheduler decodes every record write it watches, and the whole record
// (the container's command and environment, every attempt's details, the
// tags) costs several times what these fields do. Its fields keep the
// names and JSON keys of batch.JobDetail; attempts are only counted.
type schedRecord struct {
	JobID                        string                              `json:"jobId"`
	JobQueue                     string                              `json:"jobQueue"`
	JobQueueName                 string                              `json:"jobQueueName,omitempty"`
	Status                       batch.JobStatus                     `json:"status"`
	StatusReason                 string                              `json:"statusReason,omitempty"`
	ShareIdentifier              string                              `json:"shareIdentifier,omitempty"`
	SchedulingPriority           *int                                `json:"schedulingPriority,omitempty"`
	Attempts                     []struct{}                          `json:"attempts"`
	DependsOn                    []batch.JobDependency               `json:"dependsOn"`
	ArrayProperties              *batch.ArrayPropertiesDetail        `json:"arrayProperties,omitempty"`
	ConsumableResourceProperties *batch.ConsumableResourceProperties `json:"consumableResourceProperties,omitempty"`
	ComputeEnvironmentName       string                              `json:"computeEnvironmentName,omitempty"`
	HostID                       string                              `json:"hostId,omitempty"`
	TraceParent                  string                              `json:"traceParent,omitempty"`
	Seq                          uint64                              `json:"seq,omitempty"`
	Container                    *struct {
		Vcpus                int                         `json:"vcpus,omitempty"`
		Memory               int                         `json:"memory,omitempty"`
		ResourceRequirements []batch.ResourceRequirement `json:"resourceRequirements,omitempty"`
	} `json:"container,omitempty"`

	// A multi-container job's task: what its containers need (their sum
	// is the job's, batch.JobDetail.Resources).
	EcsProperties *struct {
		TaskProperties []struct {
			Containers []struct {
				ResourceRequirements []batch.ResourceRequirement `json:"resourceRequirements,omitempty"`
			} `json:"containers"`
		} `json:"taskProperties"`
	} `json:"ecsProperties,omitempty"`

	// A multi-node job's nodes (gang.go), or a node's place in one.
	NodeProperties *batch.NodeProperties `json:"nodeProperties,omitempty"`
	NodeDetails    *batch.NodeDetails    `json:"nodeDetails,omitempty"`
}

// decodeRecord decodes what the planner needs of a job record into a
// batch.JobDetail (the other fields left empty), so that the record rules
// (batch.JobDetail's methods) apply to it unchanged.
func decodeRecord(data []byte) (batch.JobDetail, error) {
	var r schedRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return batch.JobDetail{}, err
	}
	rec := batch.JobDetail{JobID: r.JobID, JobQueue: r.JobQueue, JobQueueName: r.JobQueueName, Status: r.Status,
		StatusReason: r.StatusReason, ShareIdentifier: r.ShareIdentifier, SchedulingPriority: r.SchedulingPriority,
		Attempts: make([]batch.AttemptDetail, len(r.Attempts)), DependsOn: r.DependsOn, ArrayProperties: r.ArrayProperties,
		ConsumableResourceProperties: r.ConsumableResourceProperties, ComputeEnvironmentName: r.ComputeEnvironmentName,
		HostID: r.HostID, TraceParent: r.TraceParent, Seq: r.Seq, NodeProperties: r.NodeProperties, NodeDetails: r.NodeDetails}
	if c := r.Container; c != nil {
		rec.Container = &batch.ContainerDetail{Vcpus: c.Vcpus, Memory: c.Memory, ResourceRequirements: c.ResourceRequirements}
	}
	if e := r.EcsProperties; e != nil && len(e.TaskProperties) > 0 {
		var task batch.EcsTaskDetails
		for _, c := range e.TaskProperties[0].Containers {
			task.Containers = append(task.Containers, batch.TaskContainerDetails{
				TaskContainerProperties: batch.TaskContainerProperties{ResourceRequirements: c.ResourceRequirements}})
		}
		rec.EcsProperties = &batch.EcsPropertiesDetail{TaskProperties: []batch.EcsTaskDetails{task}}
	}
	return rec, nil
}
