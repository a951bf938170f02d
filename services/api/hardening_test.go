package api

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
)

func privilegedDefinition(name string) *awsbatch.RegisterJobDefinitionInput {
	return &awsbatch.RegisterJobDefinitionInput{JobDefinitionName: aws.String(name), Type: types.JobDefinitionTypeContainer,
		ContainerProperties: &types.ContainerProperties{Image: aws.String("busybox"), Vcpus: aws.Int32(1), Memory: aws.Int32(64),
			Privileged: aws.Bool(true)}}
}

func deviceDefinition(name string) *awsbatch.RegisterJobDefinitionInput {
	return &awsbatch.RegisterJobDefinitionInput{JobDefinitionName: aws.String(name), Type: types.JobDefinitionTypeContainer,
		ContainerProperties: &types.ContainerProperties{Image: aws.String("busybox"), Vcpus: aws.Int32(1), Memory: aws.Int32(64),
			LinuxParameters: &types.LinuxParameters{Devices: []types.Device{{HostPath: aws.String("/dev/fuse")}}}}}
}

func hostFolderDefinition(name, source string) *awsbatch.RegisterJobDefinitionInput {
	return &awsbatch.RegisterJobDefinitionInput{JobDefinitionName: aws.String(name), Type: types.JobDefinitionTypeContainer,
		ContainerProperties: &types.ContainerProperties{Image: aws.String("busybox"), Vcpus: aws.Int32(1), Memory: aws.Int32(64),
			Volumes:     []types.Volume{{Name: aws.String("v"), Host: &types.Host{SourcePath: aws.String(source)}}},
			MountPoints: []types.MountPoint{{SourceVolume: aws.String("v"), ContainerPath: aws.String("/data")}}}}
}

// TestPrivilegeRule: with access control, privileged containers, host
// devices and host folders need AllowPrivileged; without it (an open API) they are allowed,
// as AWS allows them.
func TestPrivilegeRule(t *testing.T) {
	closed := startAPI(t, nil, Config{Auth: testAuth(t, nil)})
	admin := signedClient(closed.http.URL, "ADMINKEY00000001", "admin-secret-0000000001")
	_, err := admin.RegisterJobDefinition(ctx(t), privilegedDefinition("p"))
	clientException(t, err, "containerProperties.privileged")
	clientException(t, err, "--allow-privileged")
	_, err = admin.RegisterJobDefinition(ctx(t), deviceDefinition("d"))
	clientException(t, err, "linuxParameters.devices")
	_, err = admin.RegisterJobDefinition(ctx(t), hostFolderDefinition("h", "/"))
	clientException(t, err, "volumes[0].host")
	// A volume of the attempt (empty host) is no privilege.
	must(admin.RegisterJobDefinition(ctx(t), hostFolderDefinition("scratch", "")))
	// A plain definition is fine.
	plain := privilegedDefinition("plain")
	plain.ContainerProperties.Privileged = aws.Bool(false)
	must(admin.RegisterJobDefinition(ctx(t), plain))

	allowed := startAPI(t, nil, Config{Auth: testAuth(t, nil), AllowPrivileged: true})
	must(signedClient(allowed.http.URL, "ADMINKEY00000001", "admin-secret-0000000001").RegisterJobDefinition(ctx(t), privilegedDefinition("p")))

	open := startAPI(t, nil, Config{})
	must(open.client.RegisterJobDefinition(ctx(t), privilegedDefinition("p")))
	must(open.client.RegisterJobDefinition(ctx(t), deviceDefinition("d")))
	must(open.client.RegisterJobDefinition(ctx(t), hostFolderDefinition("h", "/")))
}

// TestHTTPLimits: headers over the limit are refused (431), and the
// listener holds at most its limit of connections open at once.
func TestHTTPLimits(t *testing.T) {
	a := startAPI(t, nil, Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := NewHTTPServer(a.srv.Handler())
	go func() { _ = hs.Serve(LimitListener(ln, 1)) }()
	t.Cleanup(func() { _ = hs.Close() })
	url := "http://" + ln.Addr().String()

	req, _ := http.NewRequest(http.MethodPost, url+"/v1/describejobqueues", strings.NewReader("{}"))
	req.Header.Set("X-Big", strings.Repeat("x", HTTPMaxHeaderBytes+8192))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("oversized headers: %d", resp.StatusCode)
	}

}

// TestLimitListener: with a limit of one, a second connection is accepted
// only once the first is closed.
func TestLimitListener(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := LimitListener(raw, 1)
	defer l.Close()
	for range 2 {
		c, err := net.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	first, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	second := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			second <- c
		}
	}()
	select {
	case <-second:
		t.Fatal("a second connection was accepted while the first is open")
	case <-time.After(200 * time.Millisecond):
	}
	first.Close()
	select {
	case c := <-second:
		c.Close()
	case <-time.After(30 * time.Second):
		t.Fatal("the second connection was not accepted after the first closed")
	}
}
