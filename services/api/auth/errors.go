package auth

import (
	"errors"
	"net/http"
)

// Error types of a refused request, as AWS names them. Every one is
// answered with HTTP 403 and the type in the X-Amzn-ErrorType header.
const (
	MissingAuthenticationToken = "MissingAuthenticationTokenException"
	IncompleteSignature        = "IncompleteSignatureException"
	UnrecognizedClient         = "UnrecognizedClientException"
	InvalidSignature           = "InvalidSignatureException"
	AccessDenied               = "AccessDeniedException"
)

// Error is a refused request: the AWS error type, the HTTP status and
// AWS's message.
type Error struct {
	Type    string
	Status  int
	Message string
}

func (e *Error) Error() string { return e.Type + ": " + e.Message }

func refuse(typ, msg string) *Error {
	return &Error{Type: typ, Status: http.StatusForbidden, Message: msg}
}

// AWS's messages.
var (
	errMissing      = refuse(MissingAuthenticationToken, "Missing Authentication Token")
	errUnrecognized = refuse(UnrecognizedClient, "The security token included in the request is invalid.")
	errMismatch     = refuse(InvalidSignature, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
)

// AsError returns the *Error in err's chain, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
