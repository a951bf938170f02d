package api

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// serveTags serves the three tag operations, which restJson1 binds to
// /v1/tags/{resourceArn} (the ARN escaped as one path segment):
// GET is ListTagsForResource, POST TagResource (body {"tags":{...}}) and
// DELETE UntagResource (keys in repeated tagKeys query parameters). The
// path and query members are folded into the JSON body the operation
// takes over NATS.
func (s *Server) serveTags(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Amzn-RequestId", newUUID())
	arn, err := url.PathUnescape(strings.TrimPrefix(r.URL.EscapedPath(), "/v1/tags/"))
	if err != nil {
		writeError(w, toAPIError(clientErr("the resource ARN in the path %s is not escaped correctly: %v", r.URL.EscapedPath(), err)))
		return
	}
	var name string
	req := map[string]any{"resourceArn": arn}
	if r.Method != http.MethodGet && r.Method != http.MethodDelete && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST, DELETE")
		writeError(w, &apiError{Type: methodNotAllowed, Status: http.StatusMethodNotAllowed,
			Message: "/v1/tags/{resourceArn} is called with GET (ListTagsForResource), POST (TagResource) or DELETE (UntagResource), not " + r.Method})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes+1))
	if err != nil {
		writeError(w, toAPIError(clientErr("the request body cannot be read: %v", err)))
		return
	}
	if len(body) > maxRequestBytes {
		writeError(w, toAPIError(s.byPath["tagresource"].tooLarge(len(body))))
		return
	}
	if r, err = s.authenticate(r, body); err != nil {
		writeError(w, toAPIError(err))
		return
	}
	switch r.Method {
	case http.MethodGet:
		name = "ListTagsForResource"
	case http.MethodDelete:
		name = "UntagResource"
		req["tagKeys"] = r.URL.Query()["tagKeys"]
	case http.MethodPost:
		name = "TagResource"
		var in struct {
			Tags json.RawMessage `json:"tags"`
		}
		if err := decodeRequest(body, &in); err != nil {
			writeError(w, toAPIError(err))
			return
		}
		if len(in.Tags) > 0 {
			req["tags"] = in.Tags
		}
	}
	body, err = json.Marshal(req)
	if err != nil {
		writeError(w, toAPIError(err))
		return
	}
	s.respond(w, r, s.byPath[strings.ToLower(name)], body)
}
