package runtimetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/batchd/batchd/services/launcher/internal/runtime"
)

// PodLifecycle: CreatePod and Create are idempotent by name; a created
// container is listed as created and does not run until StartCreated;
// containers of a pod exit on their own with their exit codes, and
// RemovePod removes the pod and every container in it (even one never
// started). image's default behaviour must exit 0 for command
// ["sh","-c","exit 0"] and 5 for ["sh","-c","exit 5"] (a fake scripts it).
func PodLifecycle(t *testing.T, newRuntime NewRuntime, image string) {
	rt := newRuntime(t)
	ctx := testContext(t)
	pod := uniqueName(t)
	key := suffix()
	labels := map[string]string{LabelKey: key}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := rt.RemovePod(cctx, pod); err != nil {
			t.Errorf("cleanup: RemovePod: %v", err)
		}
	})
	spec := runtime.PodSpec{Name: pod, Labels: labels, Network: "none"}
	p, err := rt.CreatePod(ctx, spec)
	if err != nil || p.ID == "" {
		t.Fatalf("CreatePod = %+v, %v", p, err)
	}
	again, err := rt.CreatePod(ctx, spec)
	if err != nil || again.ID != p.ID {
		t.Fatalf("second CreatePod = %+v, %v; want the same pod %s", again, err, p.ID)
	}
	member := func(name string, cmd ...string) runtime.Spec {
		return runtime.Spec{Name: pod + "-" + name, Image: image, Command: cmd, Pod: pod, Network: "none",
			Labels:   map[string]string{LabelKey: key, "member": name},
			Settings: runtime.Settings{Mounts: []runtime.Mount{{Kind: runtime.MountVolume, Source: pod + "-scratch", Destination: "/scratch"}}}}
	}
	ok, err := rt.Create(ctx, member("ok", "sh", "-c", "exit 0"))
	if err != nil || !ok.Created || ok.Running {
		t.Fatalf("Create ok = %+v, %v; want created, not running", ok, err)
	}
	five, err := rt.Create(ctx, member("five", "sh", "-c", "exit 5"))
	if err != nil {
		t.Fatalf("Create five: %v", err)
	}
	never, err := rt.Create(ctx, member("never", "sh", "-c", "exit 0"))
	if err != nil {
		t.Fatalf("Create never: %v", err)
	}
	dup, err := rt.Create(ctx, member("ok", "sh", "-c", "exit 9"))
	if err != nil || dup.ID != ok.ID {
		t.Fatalf("second Create = %+v, %v; want the existing container %s", dup, err, ok.ID)
	}
	if c := listOne(t, rt, map[string]string{LabelKey: key, "member": "ok"}); !c.Created {
		t.Fatalf("listed %+v, want state created", c)
	}
	for _, c := range []runtime.Container{ok, five} {
		if err := rt.StartCreated(ctx, c.ID); err != nil {
			t.Fatalf("StartCreated %s: %v", c.Name, err)
		}
	}
	for c, want := range map[string]int{ok.ID: 0, five.ID: 5} {
		exit, err := rt.Wait(ctx, c)
		if err != nil || exit.ExitCode != want {
			t.Fatalf("Wait %s = %+v, %v; want exit %d", c, exit, err, want)
		}
	}
	if err := rt.StartCreated(ctx, ok.ID); err != nil {
		t.Fatalf("StartCreated of an exited container: %v, want nothing done", err)
	}
	if c := listOne(t, rt, map[string]string{LabelKey: key, "member": "five"}); c.Created || c.Running {
		t.Fatalf("listed %+v, want state exited", c)
	}
	if err := rt.RemovePod(ctx, pod); err != nil {
		t.Fatalf("RemovePod: %v", err)
	}
	assertGone(t, rt, labels)
	if err := rt.RemovePod(ctx, pod); err != nil {
		t.Fatalf("RemovePod of a removed pod: %v, want none", err)
	}
	_ = never
}

// PodSharing (real engines): the containers of a pod share its loopback
// and its attempt volumes.
func PodSharing(t *testing.T, newRuntime NewRuntime, image string) {
	rt := newRuntime(t)
	ctx := testContext(t)
	pod := uniqueName(t)
	key := suffix()
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = rt.RemovePod(cctx, pod)
	})
	if _, err := rt.CreatePod(ctx, runtime.PodSpec{Name: pod, Labels: map[string]string{LabelKey: key}, Network: "none"}); err != nil {
		t.Fatalf("CreatePod: %v", err)
	}
	mk := func(name string, cmd string) runtime.Container {
		c, err := rt.Create(ctx, runtime.Spec{Name: pod + "-" + name, Image: image, Command: []string{"sh", "-c", cmd},
			Pod: pod, Network: "none", Labels: map[string]string{LabelKey: key},
			Settings: runtime.Settings{Mounts: []runtime.Mount{{Kind: runtime.MountVolume, Source: pod + "-v", Destination: "/v"}}}})
		if err != nil {
			t.Fatalf("Create %s: %v", name, err)
		}
		if err := rt.StartCreated(ctx, c.ID); err != nil {
			t.Fatalf("StartCreated %s: %v", name, err)
		}
		return c
	}
	server := mk("server", "echo shared > /v/file; echo hello | nc -l -p 18471 127.0.0.1 || echo hello | nc -l -p 18471")
	client := mk("client", "for i in $(seq 50); do nc 127.0.0.1 18471 </dev/null && exit 0; sleep 0.1; done; exit 1")
	lines, exit := finish(t, rt, client.ID)
	if exit.ExitCode != 0 || !slices.Contains(texts(lines), "hello") {
		t.Fatalf("client exit %d, lines %q; want it to read the server's hello on 127.0.0.1", exit.ExitCode, texts(lines))
	}
	if _, err := rt.Wait(ctx, server.ID); err != nil {
		t.Fatal(err)
	}
	reader := mk("reader", "cat /v/file")
	lines, exit = finish(t, rt, reader.ID)
	if exit.ExitCode != 0 || !slices.Equal(texts(lines), []string{"shared"}) {
		t.Fatalf("reader exit %d, lines %q; want the file another container wrote to the pod volume", exit.ExitCode, texts(lines))
	}
}
