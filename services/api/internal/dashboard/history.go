package dashboard

import (
	"sync"
	"time"

	"github.com/batchd/batchd/pkg/batch"
)

// The plots of the overview: jobs by state over the last hour, sampled
// every SampleEvery from the api's job index, and jobs finished per
// minute, counted from the job state change events. Both live in this
// api replica's memory. After a restart the state plot starts empty (it
// begins at the restart), and the throughput of the hour before is
// counted again from the job records (stoppedAt of the jobs still kept).

const (
	// historySpan is how far back the plots go.
	historySpan = time.Hour
	// SampleEvery is the interval of the state plot.
	SampleEvery = 10 * time.Second
)

// StateSample is the number of jobs in each status (batch.AllStatuses
// order) at a time (ms).
type StateSample struct {
	T      int64  `json:"t"`
	Counts [7]int `json:"c"`
}

// MinuteCount is how many jobs finished in the minute that starts at T (ms).
type MinuteCount struct {
	T         int64 `json:"t"`
	Succeeded int   `json:"succeeded"`
	Failed    int   `json:"failed"`
}

// HistoryView is the JSON form of the plots.
type HistoryView struct {
	Statuses   []batch.JobStatus `json:"statuses"`
	States     []StateSample     `json:"states"`
	Throughput []MinuteCount     `json:"throughput"`
	// Since is when this replica started keeping the state plot.
	Since int64 `json:"since"`
}

// history keeps the plots.
type history struct {
	mu      sync.Mutex
	since   int64
	states  []StateSample          // oldest first
	minutes map[int64]*MinuteCount // by minute start (ms)
}

func newHistory(now time.Time) *history {
	return &history{since: now.UnixMilli(), minutes: map[int64]*MinuteCount{}}
}

// sample adds a state sample and forgets what is older than the span.
func (h *history) sample(now time.Time, counts [7]int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.states = append(h.states, StateSample{T: now.UnixMilli(), Counts: counts})
	cut := now.Add(-historySpan).UnixMilli()
	i := 0
	for i < len(h.states) && h.states[i].T < cut {
		i++
	}
	if i > 0 {
		h.states = append(h.states[:0], h.states[i:]...)
	}
	for m := range h.minutes {
		if m < cut-time.Minute.Milliseconds() {
			delete(h.minutes, m)
		}
	}
}

// finished counts a job that reached a final status at stoppedAt (ms).
func (h *history) finished(stoppedAt int64, status batch.JobStatus) {
	m := stoppedAt - stoppedAt%time.Minute.Milliseconds()
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.minutes[m]
	if c == nil {
		c = &MinuteCount{T: m}
		h.minutes[m] = c
	}
	if status == batch.StatusSucceeded {
		c.Succeeded++
	} else {
		c.Failed++
	}
}

// view returns the plots of the last hour: every minute, empty ones too.
func (h *history) view(now time.Time) HistoryView {
	h.mu.Lock()
	defer h.mu.Unlock()
	v := HistoryView{Statuses: batch.AllStatuses, States: append([]StateSample{}, h.states...), Since: h.since}
	minute := time.Minute.Milliseconds()
	last := now.UnixMilli() - now.UnixMilli()%minute
	for m := last - historySpan.Milliseconds() + minute; m <= last; m += minute {
		c := MinuteCount{T: m}
		if p := h.minutes[m]; p != nil {
			c = *p
		}
		v.Throughput = append(v.Throughput, c)
	}
	return v
}
