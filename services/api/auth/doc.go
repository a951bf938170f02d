// Package auth is the access control of the batchd API: AWS Signature
// Version 4 verification of HTTP requests, IAM-style identity policies
// (Allow and Deny statements over batch: actions and resource ARNs, with
// * and ? wildcards; an explicit Deny wins, anything not allowed is
// denied), the credentials file of `batchd --auth`, and browser sessions
// for the dashboard.
//
// The decisions are pure code: a Policy answers Decide(action, resource),
// a Principal answers Allowed(action, resources...). The Authenticator
// turns a request into the Principal that signed it, or into the error AWS
// answers with (UnrecognizedClientException, InvalidSignatureException,
// IncompleteSignatureException, MissingAuthenticationTokenException); the
// api then asks the Principal about the operation's action and resources
// and answers AccessDeniedException when it is not allowed.
package auth
