package api

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Host privileges: a privileged container, a host device or a bind mount of
// a host folder (volumes[].host.sourcePath: "/" read-write is the host's
// disk) is root on the launcher's host. AWS Batch allows them to whoever may register job
// definitions; batchd does the same while the API is open (no --auth),
// and with access control only when the operator allows it
// (Config.AllowPrivileged, batchd --allow-privileged).

// privilegeHint says how to enable host privileges.
const privilegeHint = "start batchd with --allow-privileged to allow privileged containers, host devices and host folders"

// checkPrivilege refuses a job definition that asks for host privileges
// when they are not allowed. what names the definition in the message.
func (s *Server) checkPrivilege(what string, def any) error {
	if s.cfg.Auth == nil || s.cfg.AllowPrivileged {
		return nil
	}
	data, err := json.Marshal(def)
	if err != nil {
		return err
	}
	var tree any
	if err := json.Unmarshal(data, &tree); err != nil {
		return err
	}
	if path := findPrivilege(tree, ""); path != "" {
		return clientErr("%s asks for host privileges (%s), which this server does not allow: %s", what, path, privilegeHint)
	}
	return nil
}

// findPrivilege returns the path of the first "privileged": true,
// non-empty "devices" list of a "linuxParameters" object, or host folder
// (a "host" object with a "sourcePath", EKS's "hostPath" with a "path")
// anywhere in a decoded JSON value (container, ECS, multi-node and EKS
// properties all spell them so), or "". An empty host volume (a volume of
// the attempt) is no privilege.
func findPrivilege(v any, path string) string {
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			p := join(path, k)
			if strings.EqualFold(k, "privileged") && child == true {
				return p
			}
			if (strings.EqualFold(k, "host") && nonEmpty(child, "sourcePath")) ||
				(strings.EqualFold(k, "hostPath") && nonEmpty(child, "path")) {
				return p
			}
			if strings.EqualFold(k, "linuxParameters") {
				if lp, ok := child.(map[string]any); ok {
					for dk, devs := range lp {
						if l, ok := devs.([]any); ok && strings.EqualFold(dk, "devices") && len(l) > 0 {
							return join(p, dk)
						}
					}
				}
			}
			if found := findPrivilege(child, p); found != "" {
				return found
			}
		}
	case []any:
		for i, child := range v {
			if found := findPrivilege(child, path+"["+strconv.Itoa(i)+"]"); found != "" {
				return found
			}
		}
	}
	return ""
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// nonEmpty reports whether v is an object whose field (any case) is a
// non-empty string.
func nonEmpty(v any, field string) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	for k, x := range m {
		if s, ok := x.(string); ok && strings.EqualFold(k, field) && s != "" {
			return true
		}
	}
	return false
}
