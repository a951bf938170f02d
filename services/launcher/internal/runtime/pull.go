package runtime

import "time"

// Pull says how the engine gets a container's image that is not in its
// local store. An image that is present is used as it is, never pulled
// again ("missing" pull policy).
type Pull struct {
	// CredentialSecrets are the engine secrets to try, in order, for the
	// registry credentials (containerProperties.repositoryCredentials);
	// the first that exists is used. Empty: pull without credentials.
	CredentialSecrets []string
	// CredentialsParameter is what the job definition said, for messages.
	CredentialsParameter string
}

// ImagePull is when the engine pulled a container's image: from when the
// start asked for it (a pull that another start of the same image had
// begun is waited for, not repeated) to when it was stored, or failed.
type ImagePull struct {
	StartedAt time.Time
	StoppedAt time.Time
}

// PullFailure is Start's error when the image could not be pulled: Err
// (wrapping ErrImageNotFound and ErrCannotStart) says why, in words for
// the job's statusReason ("CannotPullContainerError: ..."), and Pull when
// the pull ran.
type PullFailure struct {
	Pull ImagePull
	Err  error
}

func (e *PullFailure) Error() string { return e.Err.Error() }
func (e *PullFailure) Unwrap() error { return e.Err }
