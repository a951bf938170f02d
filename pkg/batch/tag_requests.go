package batch

// The tag requests. Over HTTP resourceArn is in the path
// (/v1/tags/{resourceArn}) and UntagResource's tagKeys in the query; over
// NATS both are members of the JSON body.

// TagResourceInput is the TagResource request.
type TagResourceInput struct {
	ResourceArn string            `json:"resourceArn"`
	Tags        map[string]string `json:"tags"`
}

// UntagResourceInput is the UntagResource request.
type UntagResourceInput struct {
	ResourceArn string   `json:"resourceArn"`
	TagKeys     []string `json:"tagKeys"`
}

// ListTagsForResourceInput is the ListTagsForResource request.
type ListTagsForResourceInput struct {
	ResourceArn string `json:"resourceArn"`
}

// ListTagsForResourceOutput is the ListTagsForResource answer.
type ListTagsForResourceOutput struct {
	Tags map[string]string `json:"tags"`
}
