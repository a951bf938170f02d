package launcher

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/pkg/telemetry"
	"github.com/batchd/batchd/services/launcher/internal/runtime"
	"github.com/batchd/batchd/services/launcher/internal/taskplan"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// A multi-container job's attempt (a task) runs as one pod named like a
// single job's container, "batch-<job>-<attempt>", with its containers
// "<pod>-<name>". Every container is created at once, with what the
// supervisor needs to carry on after a restart in its labels, then started
// as its dependencies allow (taskplan decides).
const (
	labelPod         = "batch.pod"          // the pod's name, on its containers
	labelContainer   = "batch.container"    // the container's name in the task
	labelEssential   = "batch.essential"    // "true" or "false"
	labelDependsOn   = "batch.depends-on"   // "name:CONDITION,..."
	labelStopTimeout = "batch.stop-timeout" // seconds
	labelMembers     = "batch.members"      // how many containers the task has
	labelIndex       = "batch.index"        // the container's place in the task
)

// member is one container of a task being supervised.
type member struct {
	name        string
	essential   bool
	deps        []taskplan.Dep
	stopTimeout time.Duration
	id          string

	state    taskplan.State
	exit     runtime.Exit
	reason   string // why it never started
	stopSent bool
	logsFrom resumePoint
}

// memberExit is a container's end as its waiter reports it.
type memberExit struct {
	i    int
	exit runtime.Exit
	err  error
}

// runTask creates a placed task's pod and containers and supervises it.
func (l *launcher) runTask(ctx context.Context, p events.JobPlaced, run *attemptRun, d *bus.Delivery, span trace.Span) {
	pod := containerName(p.JobID, p.Attempt)
	t := p.Task
	labels := map[string]string{labelJob: p.JobID, labelAttempt: strconv.Itoa(p.Attempt), labelHost: l.cfg.HostID,
		labelQueue: p.JobQueue, labelTimeout: strconv.Itoa(t.TimeoutSeconds)}
	gpus, err := l.taskGPUs(ctx, p, pod)
	if err != nil {
		l.taskStartFailed(ctx, p, pod, err, d, span)
		return
	}
	podInfo, err := l.rt.CreatePod(ctx, runtime.PodSpec{Name: pod, Labels: labels, Network: l.cfg.Network,
		IpcMode: t.IpcMode, PidMode: t.PidMode})
	if err != nil {
		l.taskStartFailed(ctx, p, pod, err, d, span)
		return
	}
	ms := make([]*member, len(t.Containers))
	for i, tc := range t.Containers {
		spec, err := l.memberSpec(p, pod, i, tc, labels, gpus[i])
		var c runtime.Container
		if err == nil {
			c, err = l.rt.Create(ctx, spec)
		}
		if err != nil {
			l.taskStartFailed(ctx, p, pod, fmt.Errorf("container %s: %w", tc.Name, err), d, span)
			return
		}
		m := &member{name: tc.Name, essential: tc.Essential, stopTimeout: time.Duration(tc.StopTimeoutSeconds) * time.Second, id: c.ID}
		for _, dep := range tc.DependsOn {
			m.deps = append(m.deps, taskplan.Dep{Container: dep.ContainerName, Condition: dep.Condition})
		}
		m.state = memberState(c)
		ms[i] = m
	}
	l.superviseTask(ctx, p.JobID, p.Attempt, run, podInfo, ms, t.TimeoutSeconds, d, span)
}

// memberSpec is the engine's spec of one container of the task: the same
// mapping as a single-container job's (runtimeSpec: every setting, the
// attempt volumes named per attempt, so the containers that mount one
// share it), in the pod, with what a restarted launcher needs in labels.
func (l *launcher) memberSpec(p events.JobPlaced, pod string, index int, tc events.TaskContainerSpec, base map[string]string, gpus []string) (runtime.Spec, error) {
	t := p.Task
	labels := make(map[string]string, len(base)+7)
	for k, v := range base {
		labels[k] = v
	}
	deps := make([]string, 0, len(tc.DependsOn))
	for _, d := range tc.DependsOn {
		deps = append(deps, d.ContainerName+":"+d.Condition)
	}
	labels[labelPod] = pod
	labels[labelContainer] = tc.Name
	labels[labelEssential] = strconv.FormatBool(tc.Essential)
	labels[labelDependsOn] = strings.Join(deps, ",")
	labels[labelStopTimeout] = strconv.Itoa(tc.StopTimeoutSeconds)
	labels[labelMembers] = strconv.Itoa(len(t.Containers))
	labels[labelIndex] = strconv.Itoa(index)
	s, err := l.runtimeSpec(p.JobID, p.Attempt, pod+"-"+tc.Name, labels, tc.Container)
	if err != nil {
		return s, err
	}
	s.Pod, s.IpcMode, s.PidMode = pod, t.IpcMode, t.PidMode
	withGPUs(&s, gpus)
	return s, nil
}

// taskGPUs gives each container of a placed task the GPUs it asks for
// (gpuSet.takeEach), all held under the attempt's key until the task has
// ended. Containers of the pod that exist already (a placement redelivered
// after a restart) keep the devices their labels name.
func (l *launcher) taskGPUs(ctx context.Context, p events.JobPlaced, pod string) ([][]string, error) {
	needs := make([]int, len(p.Task.Containers))
	total := 0
	for i, tc := range p.Task.Containers {
		needs[i] = tc.Container.GPUs
		total += tc.Container.GPUs
	}
	have := make([][]string, len(needs))
	if total == 0 {
		return have, nil
	}
	cs, err := l.rt.List(ctx, map[string]string{labelHost: l.cfg.HostID, labelJob: p.JobID, labelAttempt: strconv.Itoa(p.Attempt)})
	if err != nil {
		return nil, fmt.Errorf("list the pod's containers: %w", err)
	}
	for _, c := range cs {
		if c.Labels[labelPod] != pod {
			continue
		}
		if i := slices.IndexFunc(p.Task.Containers, func(tc events.TaskContainerSpec) bool { return tc.Name == c.Labels[labelContainer] }); i >= 0 {
			have[i] = gpusOfLabel(c.Labels)
		}
	}
	return l.gpus.takeEach(attemptKey(p.JobID, p.Attempt), needs, have)
}

func memberState(c runtime.Container) taskplan.State {
	if c.Created {
		return taskplan.Waiting
	}
	return taskplan.Running // running, or exited: its waiter reports the exit at once
}

// taskStartFailed handles a pod or container that could not be created:
// the attempt ends with nothing left behind, unless it is retried
// (startFailed).
func (l *launcher) taskStartFailed(ctx context.Context, p events.JobPlaced, pod string, err error, d *bus.Delivery, span trace.Span) {
	l.startFailed(ctx, p, err, nil, d, span, "task", func(ctx context.Context) {
		if rmErr := l.rt.RemovePod(ctx, pod); rmErr != nil {
			l.log.WarnContext(ctx, "remove pod", telemetry.LogJobID, p.JobID, "err", rmErr)
		}
	})
}

// plan is what taskplan sees of the members; exits are ordered by their
// time.
func plan(ms []*member) []taskplan.Member {
	out := make([]taskplan.Member, len(ms))
	for i, m := range ms {
		out[i] = taskplan.Member{Name: m.name, Essential: m.essential, DependsOn: m.deps, State: m.state,
			ExitCode: m.exit.ExitCode, Reason: m.reason}
	}
	exited := []int{}
	for i, m := range ms {
		if m.state == taskplan.Exited {
			exited = append(exited, i)
		}
	}
	slices.SortStableFunc(exited, func(a, b int) int { return ms[a].exit.FinishedAt.Compare(ms[b].exit.FinishedAt) })
	for rank, i := range exited {
		out[i].Order = rank + 1
	}
	return out
}

// superviseTask follows a task to its end: it starts the containers as
// their dependencies allow, reports the start once the first ones run,
// ships each container's output, stops the others when an essential
// container stops (or on timeout or termination), reports the attempt's
// result with every container's, and removes the pod. placement (when not
// nil) is acknowledged once the start is reported. When ctx ends first the
// pod is left running for the next launcher to re-adopt.
func (l *launcher) superviseTask(ctx context.Context, job string, attempt int, run *attemptRun, pod runtime.Pod,
	ms []*member, timeoutSec int, placement *bus.Delivery, placedSpan trace.Span) {
	log := l.log.With(telemetry.LogJobID, job, "attempt", attempt, "pod", pod.Name)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopReq := make(chan string, 2)
	run.attach(func(reason string) {
		log.InfoContext(ctx, "job terminated, stopping its pod", "reason", reason)
		select {
		case stopReq <- reason:
		default:
		}
	})
	var timer *time.Timer
	if timeoutSec > 0 {
		timer = time.AfterFunc(time.Duration(timeoutSec)*time.Second, func() {
			log.InfoContext(ctx, "attempt timed out, stopping")
			select {
			case stopReq <- reasonTimeout:
			default:
			}
		})
		defer timer.Stop()
	}

	exits := make(chan memberExit, len(ms))
	var logs sync.WaitGroup
	logErrs := make(chan error, len(ms))
	follow := func(i int) {
		m := ms[i]
		subject := events.LogContainerSubject(job, attempt, m.name)
		logs.Add(1)
		go func() {
			defer logs.Done()
			if err := l.shipLogs(ctx, subject, m.name, m.id, m.logsFrom); err != nil {
				logErrs <- fmt.Errorf("%s: %w", m.name, err)
			}
		}()
		go func() {
			exit, err := l.rt.Wait(ctx, m.id)
			exits <- memberExit{i: i, exit: exit, err: err}
		}()
	}
	for i, m := range ms {
		if m.state == taskplan.Running {
			follow(i)
		}
	}

	var span trace.Span
	startReported := false
	reportStart := func() bool {
		started := events.JobStarted{JobID: job, Attempt: attempt, HostID: l.cfg.HostID, ContainerID: pod.Name, StartedAt: l.clock().UnixMilli()}
		err := l.report(ctx, started)
		if placedSpan != nil {
			placedSpan.End()
			placedSpan = nil
		}
		if err != nil {
			log.ErrorContext(ctx, "report start", "err", err)
			_ = placement.Nak(time.Second) // redelivered: the pod is found by its name
			return false
		}
		_ = placement.Ack()
		ctx, span = l.tracer.Start(ctx, "launcher.wait", trace.WithAttributes(telemetry.JobID(job), telemetry.Attempt(attempt),
			attribute.String("pod.id", pod.ID)))
		startReported = true
		return true
	}
	defer func() {
		if span != nil {
			span.End()
		}
	}()

	stopReason := ""
	for {
		d := taskplan.Decide(plan(ms), stopReason != "")
		for i, reason := range d.Skip {
			ms[i].state, ms[i].reason = taskplan.Skipped, reason
			log.InfoContext(ctx, "container will not start", "container", ms[i].name, "reason", reason)
		}
		for _, i := range d.Start {
			m := ms[i]
			if err := l.rt.StartCreated(ctx, m.id); err != nil {
				if ctx.Err() != nil {
					return
				}
				m.state, m.reason = taskplan.Skipped, startFailureReason(err)
				log.InfoContext(ctx, "container cannot start", "container", m.name, "err", err)
				continue
			}
			m.state = taskplan.Running
			follow(i)
		}
		for _, i := range d.Stop {
			m := ms[i]
			if m.stopSent {
				continue
			}
			m.stopSent = true
			go func() {
				if err := l.rt.Stop(context.WithoutCancel(ctx), m.id, m.stopTimeout); err != nil {
					log.WarnContext(ctx, "stop", "container", m.name, "err", err)
				}
			}()
		}
		if !startReported && slices.ContainsFunc(ms, func(m *member) bool { return m.state == taskplan.Running || m.state == taskplan.Exited }) {
			if !reportStart() {
				return
			}
		}
		if d.Done {
			break
		}
		if len(d.Start) > 0 {
			continue // a started container may let others start
		}
		select {
		case e := <-exits:
			if e.err != nil {
				if ctx.Err() == nil {
					log.ErrorContext(ctx, "wait", "container", ms[e.i].name, "err", e.err)
				}
				return // left for the next launcher
			}
			ms[e.i].state, ms[e.i].exit = taskplan.Exited, e.exit
		case reason := <-stopReq:
			if stopReason == "" {
				stopReason = reason
			}
		case <-ctx.Done():
			return
		}
	}
	// No container runs any more: the task's GPUs are free before its
	// exit is reported, so a job the scheduler places on them next finds
	// them free.
	l.gpus.release(attemptKey(job, attempt))
	logs.Wait()
	close(logErrs)
	for err := range logErrs {
		if ctx.Err() == nil {
			log.WarnContext(ctx, "logs", "err", err)
		}
	}
	end := attemptEnd{exit: l.taskExited(job, attempt, pod, ms), timedOut: stopReason == reasonTimeout, kind: "pod",
		remove: func(ctx context.Context) error { return l.rt.RemovePod(ctx, pod.Name) }}
	if !startReported {
		end.placement, end.placedSpan = placement, placedSpan
	}
	if span != nil && end.exit.ExitCode != nil {
		span.SetAttributes(attribute.Int("container.exit_code", *end.exit.ExitCode))
	}
	if l.finishAttempt(ctx, log, run, end) {
		log.DebugContext(ctx, "task done")
	}
}

// taskExited is the exit report of a finished task: the job's result
// (taskplan.Outcome) and every container's.
func (l *launcher) taskExited(job string, attempt int, pod runtime.Pod, ms []*member) events.JobExited {
	out := taskplan.Outcome(plan(ms))
	ev := events.JobExited{JobID: job, Attempt: attempt, HostID: l.cfg.HostID, ContainerID: pod.Name,
		ExitCode: out.ExitCode, StatusReason: out.StatusReason, StoppedAt: l.clock().UnixMilli()}
	var started, stopped time.Time
	for _, m := range ms {
		r := events.ContainerResult{Name: m.name, ContainerID: m.id, Reason: m.reason}
		if m.state == taskplan.Exited {
			code := m.exit.ExitCode
			r.ExitCode, r.Reason = &code, m.exit.Reason
			if !m.exit.StartedAt.IsZero() && (started.IsZero() || m.exit.StartedAt.Before(started)) {
				started = m.exit.StartedAt
			}
			if m.exit.FinishedAt.After(stopped) {
				stopped = m.exit.FinishedAt
			}
		}
		if m.name == out.Container && out.ExitCode != nil {
			ev.Reason = m.exit.Reason
		}
		ev.Containers = append(ev.Containers, r)
	}
	if !started.IsZero() {
		ev.StartedAt = started.UnixMilli()
	}
	if !stopped.IsZero() {
		ev.StoppedAt = stopped.UnixMilli()
	}
	if out.StatusReason != "" {
		ev.Reason = out.StatusReason
	}
	return ev
}

// recoverTasks re-adopts the pods among the containers a previous
// launcher left (grouped by attempt). A task whose containers are not all
// there was still being created: its placement, not yet acknowledged, is
// redelivered and finishes it.
func (l *launcher) recoverTasks(ctx context.Context, cs []runtime.Container) {
	type key struct {
		job     string
		attempt int
	}
	groups := map[key][]runtime.Container{}
	var order []key
	for _, c := range cs {
		attempt, err := strconv.Atoi(c.Labels[labelAttempt])
		if c.Labels[labelPod] == "" || c.Labels[labelJob] == "" || err != nil {
			continue
		}
		k := key{c.Labels[labelJob], attempt}
		if groups[k] == nil {
			order = append(order, k)
		}
		groups[k] = append(groups[k], c)
	}
	for _, k := range order {
		g := groups[k]
		n, _ := strconv.Atoi(g[0].Labels[labelMembers])
		if n != len(g) {
			// Its placement's redelivery finds the containers with their
			// devices (taskGPUs); until then they are not given away.
			l.gpus.hold(attemptKey(k.job, k.attempt), podGPUs(g))
			l.log.InfoContext(ctx, "pod incomplete, left to its placement", telemetry.LogJobID, k.job, "attempt", k.attempt)
			continue
		}
		run := l.claim(k.job, k.attempt)
		if run == nil {
			continue
		}
		// The pod's GPUs stay its own until it has ended: every
		// container's, under the attempt's one key.
		l.gpus.hold(attemptKey(k.job, k.attempt), podGPUs(g))
		pod := runtime.Pod{ID: g[0].Labels[labelPod], Name: g[0].Labels[labelPod]}
		timeout, _ := strconv.Atoi(g[0].Labels[labelTimeout])
		slices.SortFunc(g, func(a, b runtime.Container) int {
			x, _ := strconv.Atoi(a.Labels[labelIndex])
			y, _ := strconv.Atoi(b.Labels[labelIndex])
			return x - y
		})
		ms := make([]*member, 0, len(g))
		for _, c := range g {
			stop, _ := strconv.Atoi(c.Labels[labelStopTimeout])
			m := &member{name: c.Labels[labelContainer], essential: c.Labels[labelEssential] == "true",
				stopTimeout: time.Duration(stop) * time.Second, id: c.ID, state: memberState(c)}
			for _, d := range strings.Split(c.Labels[labelDependsOn], ",") {
				if name, cond, ok := strings.Cut(d, ":"); ok {
					m.deps = append(m.deps, taskplan.Dep{Container: name, Condition: cond})
				}
			}
			if m.state == taskplan.Running {
				m.logsFrom = l.resumeFrom(ctx, events.LogContainerSubject(k.job, k.attempt, m.name))
			}
			ms = append(ms, m)
		}
		jctx := l.jobTrace(ctx, k.job)
		l.log.InfoContext(jctx, "re-adopting pod", telemetry.LogJobID, k.job, "attempt", k.attempt, "containers", len(ms))
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			defer l.release(k.job, k.attempt)
			l.superviseTask(jctx, k.job, k.attempt, run, pod, ms, timeout, nil, nil)
		}()
	}
}

// podGPUs is every device the containers of one pod were created with.
func podGPUs(cs []runtime.Container) []string {
	var out []string
	for _, c := range cs {
		out = append(out, gpusOfLabel(c.Labels)...)
	}
	return out
}
