package launcher

import "net"

// DefaultHostAddress is the address the launcher advertises when none is
// configured: the host's first non-loopback IPv4 address (of an interface
// that is up), else 127.0.0.1. Containers of other hosts reach this host's
// containers on the host network at it (the main node of a multi-node job).
func DefaultHostAddress() string {
	ifaces, err := net.Interfaces()
	if err != nil {
		return "127.0.0.1"
	}
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
				return n.IP.To4().String()
			}
		}
	}
	return "127.0.0.1"
}
