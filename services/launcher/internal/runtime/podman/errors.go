package podman

import (
	"errors"
	"net/http"
	"strings"

	"github.com/containers/podman/v5/pkg/errorhandling"
)

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
