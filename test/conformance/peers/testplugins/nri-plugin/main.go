// Command nri-plugin is a trivial NRI plugin (github.com/containerd/nri
// pkg/stub, as DraNet uses it) for the self-tests of nri-peer:
//   - subscribes to RunPodSandbox, StopPodSandbox, RemovePodSandbox, CreateContainer;
//   - reports every ttrpc call it serves ({"event":"rpc","method":...}), so a
//     test sees whether a pod event came as a dedicated RPC or as StateChange;
//   - reports each pod event with the pod's netns path and whether that path
//     is a real network namespace (nsfs);
//   - fails RunPodSandbox for a pod whose name contains "fail";
//   - sleeps --slow-delay in RunPodSandbox for a pod whose name contains "slow";
//   - answers CreateContainer with an adjustment adding env NETCLAIM_TEST_POD=<pod name>.
//
// stdout: JSON lines; with --reconnect it re-registers after the runtime closes the connection.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/nri/pkg/api"
	"github.com/containerd/nri/pkg/stub"
	"github.com/containerd/ttrpc"
)

const nsfsMagic = 0x6e736673

var outMu sync.Mutex

func emit(v map[string]any) {
	b, _ := json.Marshal(v)
	outMu.Lock()
	defer outMu.Unlock()
	os.Stdout.Write(append(b, '\n'))
}

type plugin struct {
	slowDelay time.Duration
}

func netnsOf(pod *api.PodSandbox) string {
	for _, ns := range pod.GetLinux().GetNamespaces() {
		if ns.Type == "network" {
			return ns.Path
		}
	}
	return ""
}

func podEvent(name string, pod *api.PodSandbox) map[string]any {
	ev := map[string]any{"event": name, "pod": pod.Name, "namespace": pod.Namespace, "uid": pod.Uid, "id": pod.Id}
	if path := netnsOf(pod); path != "" {
		ev["netns"] = path
		var st syscall.Statfs_t
		ev["netnsIsNsfs"] = syscall.Statfs(path, &st) == nil && st.Type == nsfsMagic
	}
	return ev
}

func (p *plugin) Configure(_ context.Context, _, runtime, version string) (api.EventMask, error) {
	emit(map[string]any{"event": "configured", "runtime": runtime, "version": version})
	return api.MustParseEventMask("RunPodSandbox", "StopPodSandbox", "RemovePodSandbox", "CreateContainer"), nil
}

func (p *plugin) Synchronize(_ context.Context, pods []*api.PodSandbox, ctrs []*api.Container) ([]*api.ContainerUpdate, error) {
	names := []string{}
	for _, pod := range pods {
		names = append(names, pod.Name)
	}
	emit(map[string]any{"event": "synchronize", "pods": names, "containers": len(ctrs)})
	return nil, nil
}

func (p *plugin) RunPodSandbox(_ context.Context, pod *api.PodSandbox) error {
	emit(podEvent("run-pod-sandbox", pod))
	if strings.Contains(pod.Name, "slow") {
		time.Sleep(p.slowDelay)
	}
	if strings.Contains(pod.Name, "fail") {
		return fmt.Errorf("test plugin refuses pod %s/%s", pod.Namespace, pod.Name)
	}
	return nil
}

func (p *plugin) StopPodSandbox(_ context.Context, pod *api.PodSandbox) error {
	emit(podEvent("stop-pod-sandbox", pod))
	return nil
}

func (p *plugin) RemovePodSandbox(_ context.Context, pod *api.PodSandbox) error {
	emit(podEvent("remove-pod-sandbox", pod))
	return nil
}

func (p *plugin) CreateContainer(_ context.Context, pod *api.PodSandbox, ctr *api.Container) (*api.ContainerAdjustment, []*api.ContainerUpdate, error) {
	emit(map[string]any{"event": "create-container", "pod": pod.Name, "container": ctr.Name})
	adjust := &api.ContainerAdjustment{}
	adjust.AddEnv("NETCLAIM_TEST_POD", pod.Name)
	return adjust, nil, nil
}

func (p *plugin) Shutdown(context.Context) {
	emit(map[string]any{"event": "shutdown"})
}

func main() {
	socket := flag.String("socket", "", "NRI socket")
	name := flag.String("name", "test-plugin", "plugin name")
	idx := flag.String("idx", "10", "plugin index (two digits)")
	slow := flag.Duration("slow-delay", 3*time.Second, `RunPodSandbox delay for pods named "*slow*"`)
	reconnect := flag.Bool("reconnect", false, "register again after the runtime closed the connection")
	flag.Parse()
	if *socket == "" {
		fmt.Fprintln(os.Stderr, "usage: nri-plugin --socket PATH [--name N] [--idx NN]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	record := ttrpc.WithUnaryServerInterceptor(func(ctx context.Context, u ttrpc.Unmarshaler, info *ttrpc.UnaryServerInfo, m ttrpc.Method) (any, error) {
		emit(map[string]any{"event": "rpc", "method": info.FullMethod})
		return m(ctx, u)
	})
	p := &plugin{slowDelay: *slow}
	for attempt := 1; ctx.Err() == nil; attempt++ {
		s, err := stub.New(p, stub.WithPluginName(*name), stub.WithPluginIdx(*idx), stub.WithSocketPath(*socket),
			stub.WithTTRPCOptions(nil, []ttrpc.ServerOpt{record}))
		if err != nil {
			fmt.Fprintf(os.Stderr, "nri-plugin: %v\n", err)
			os.Exit(1)
		}
		err = s.Run(ctx)
		ev := map[string]any{"event": "closed", "attempt": attempt}
		if err != nil {
			ev["error"] = err.Error()
		}
		emit(ev)
		if !*reconnect || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
}
