package natsauth

// startedFilter and exitedFilter are the started and exited facts a
// launcher may publish: those of its own host
// (batch.job.started.<host>.<job>). The one-token forms
// (batch.job.started.<job>) are those of launchers that do not put their
// host in the subject yet; the monitor applies a fact only from the host
// the job's record holds either way.
func startedFilter(hostID string) []string {
	return []string{"batch.job.started." + hostID + ".*", "batch.job.started.*"}
}

func exitedFilter(hostID string) []string {
	return []string{"batch.job.exited." + hostID + ".*", "batch.job.exited.*"}
}
