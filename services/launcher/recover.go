package launcher

import (
	"context"
	"fmt"
	"strconv"
)

// recover re-adopts the containers a previous launcher of this host left:
// running ones are supervised again (not started again), exited ones are
// reported and removed.
func (l *launcher) recover(ctx context.Context) error {
	cs, err := l.rt.List(ctx, map[string]string{labelHost: l.cfg.HostID})
	if err != nil {
		return fmt.Errorf("launcher: list containers: %w", err)
	}
	for _, c := range cs {
		job := c.Labels[labelJob]
		attempt, err := strconv.Atoi(c.Labels[labelAttempt])
		if job == "" || err != nil {
			continue
		}
		run := l.claim(job, attempt)
		if run == nil {
			continue
		}
		timeout, _ := strconv.Atoi(c.Labels[labelTimeout])
		from := l.resumeFrom(ctx, job, attempt)
		l.log.Info("launcher: re-adopting container", "job", job, "attempt", attempt, "running", c.Running)
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			defer l.release(job, attempt)
			l.supervise(ctx, job, attempt, run, c, timeout, from, nil)
		}()
	}
	return nil
}
