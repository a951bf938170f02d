package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/batchd/batchd/pkg/batch"
	"github.com/batchd/batchd/services/api/auth"
)

// Error type names that are not in the AWS model but follow its shape.
const (
	unknownOperation = "UnknownOperationException"
	methodNotAllowed = "MethodNotAllowedException"
)

// apiError is an error the API answers with: an AWS error type, the HTTP
// status that goes with it and a message for a person.
type apiError struct {
	Type    string
	Status  int
	Message string
}

func (e *apiError) Error() string { return e.Type + ": " + e.Message }

// body is the wire form of the error, identical on HTTP and NATS.
func (e *apiError) body() batch.ErrorBody {
	return batch.ErrorBody{Type: e.Type, Message: e.Message}
}

// clientErr is a ClientException: the request is wrong and the message
// says what is wrong and what is allowed.
func clientErr(format string, args ...any) error {
	return &apiError{Type: batch.ClientException, Status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...)}
}

// toAPIError turns any error into what the client sees: API errors pass
// through; anything else is a ServerException (HTTP 500).
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	if e, ok := auth.AsError(err); ok {
		return &apiError{Type: e.Type, Status: e.Status, Message: e.Message}
	}
	msg := "internal error: " + err.Error()
	if errors.Is(err, context.DeadlineExceeded) {
		msg = "the request timed out inside the server, try again: " + err.Error()
	}
	return &apiError{Type: batch.ServerException, Status: http.StatusInternalServerError, Message: msg}
}
