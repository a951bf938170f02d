package podman

import (
	"errors"
	"net/http"
	"strings"

	"github.com/containers/podman/v5/pkg/errorhandling"

	"github.com/batchd/batchd/services/launcher/internal/runtime"
)

// startError is a start failure that retrying will not fix. Its message is
// meant for the job's status reason; it wraps runtime.ErrCannotStart and
// possibly a more specific cause.
type startError struct {
	msg   string
	cause []error
}

func (e *startError) Error() string   { return e.msg }
func (e *startError) Unwrap() []error { return e.cause }

// cannotStart returns a startError with the given message, wrapping
// runtime.ErrCannotStart and the extra causes.
func cannotStart(msg string, causes ...error) error {
	return &startError{msg: msg, cause: append([]error{runtime.ErrCannotStart}, causes...)}
}

// userFaultMarkers are fragments of the messages the engine (Podman, runc)
// gives when the job's own spec makes it impossible to run: a command that
// does not exist or cannot be executed, an unknown user, a refused limit.
var userFaultMarkers = []string{
	"executable file not found",
	"not found in $path",
	"no such file or directory",
	"permission denied",
	"exec format error",
	"is a directory",
	"not a directory",
	"oci runtime attempted to invoke a command that was not found",
	"unable to find user",
	"no matching entries in passwd file",
	"minimum memory limit",
	"unable to set memory limit",
	"invalid reference format",
	"unresolvable cdi devices",
}

// isUserFault reports whether err is the service refusing the container for
// a reason in its spec, rather than an infrastructure failure.
func isUserFault(err error) bool {
	var em *errorhandling.ErrorModel
	if !errors.As(err, &em) {
		return false // no answer from the service at all
	}
	code := em.Code()
	if code >= 400 && code < 500 && code != http.StatusConflict {
		return true
	}
	msg := strings.ToLower(em.Error() + " " + em.Because)
	for _, m := range userFaultMarkers {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}
