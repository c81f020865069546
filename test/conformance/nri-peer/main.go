// Command nri-peer plays the container runtime's part of NRI for conformance
// tests: it embeds github.com/containerd/nri/pkg/adaptation, the package
// containerd itself embeds, listens on --socket for external plugins, and
// turns JSON commands read line by line on stdin into the runtime's NRI calls
// (RunPodSandbox, CreateContainer, ...). Every answer and every event is one
// JSON object per line on stdout; NRI's own log goes to stderr.
//
// Two builds from this one source (see test/conformance/peers/build-peers.sh):
//   - nri-peer         go.mod         nri v0.12.3 / ttrpc v1.2.9 (containerd 2.4):
//     dedicated RunPodSandbox/StopPodSandbox/RemovePodSandbox RPCs, falling
//     back to StateChange when a plugin answers UNIMPLEMENTED.
//   - nri-peer-legacy  go.legacy.mod  nri v0.8.0 / ttrpc v1.2.7 (containerd 2.0, 2.1):
//     pod events travel only as Plugin.StateChange (-tags nri_legacy).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/containerd/nri/pkg/adaptation"
	"github.com/containerd/nri/pkg/api"
	nrilog "github.com/containerd/nri/pkg/log"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

var outMu sync.Mutex

func emit(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"event": "internal-error", "error": err.Error()})
	}
	outMu.Lock()
	defer outMu.Unlock()
	os.Stdout.Write(append(b, '\n'))
}

func protoJSON(m proto.Message) json.RawMessage {
	if m == nil || reflect.ValueOf(m).IsNil() {
		return json.RawMessage("null")
	}
	b, err := protojson.Marshal(m)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"marshalError": err.Error()})
	}
	return b
}

// ---- NRI's log: to stderr, and the lines that matter as structured events ----

type peerLogger struct{}

func (peerLogger) logf(level, format string, args ...any) {
	fmt.Fprintf(os.Stderr, "nri-peer %s: %s\n", level, fmt.Sprintf(format, args...))
	str := func(i int) string {
		if i < len(args) {
			return fmt.Sprint(args[i])
		}
		return ""
	}
	switch {
	case strings.HasPrefix(format, "plugin %q registered as %q"):
		ev := map[string]any{"event": "plugin-registered", "plugin": str(1), "qualifiedName": str(0)}
		if len(args) > 2 {
			ev["pluginNRIVersion"] = str(2)
		}
		emit(ev)
	case format == "plugin %q connected and synchronized":
		emit(map[string]any{"event": "plugin-synchronized", "plugin": str(0)})
	case format == "connection to plugin %q closed":
		emit(map[string]any{"event": "plugin-closed", "plugin": str(0)})
	case strings.HasPrefix(format, "closing plugin %s, failed to handle"):
		// The runtime closes a plugin that timed out or broke the protocol and
		// treats the event as succeeded.
		emit(map[string]any{"event": "plugin-failed", "plugin": str(0), "request": str(1), "error": str(len(args) - 1)})
	case format == "failed to start external plugin: %v", format == "failed to synchronize plugin: %v",
		format == "failed to create external plugin: %v":
		emit(map[string]any{"event": "plugin-start-failed", "error": str(0)})
	case strings.HasPrefix(format, "plugin %s uses deprecated StateChange"):
		emit(map[string]any{"event": "deprecated-state-change", "plugin": str(0), "request": str(1)})
	}
}

func (l peerLogger) Debugf(_ context.Context, format string, args ...any) {
	if os.Getenv("NRI_PEER_DEBUG") != "" {
		l.logf("debug", format, args...)
	}
}
func (l peerLogger) Infof(_ context.Context, format string, args ...any) {
	l.logf("info", format, args...)
}
func (l peerLogger) Warnf(_ context.Context, format string, args ...any) {
	l.logf("warn", format, args...)
}
func (l peerLogger) Errorf(_ context.Context, format string, args ...any) {
	l.logf("error", format, args...)
}

// ---- the runtime's view: pods and containers, as Synchronize sends them ----

// Pod is the JSON form of a pod sandbox. netns "" means a host-network pod.
type Pod struct {
	ID             string            `json:"id"`
	Name           string            `json:"name"`
	UID            string            `json:"uid"`
	Namespace      string            `json:"namespace"`
	Netns          string            `json:"netns,omitempty"`
	Labels         map[string]string `json:"labels,omitempty"`
	Annotations    map[string]string `json:"annotations,omitempty"`
	RuntimeHandler string            `json:"runtimeHandler,omitempty"`
	Pid            uint32            `json:"pid,omitempty"`
	IPs            []string          `json:"ips,omitempty"`
}

// Container is the JSON form of a container.
type Container struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	PodID       string            `json:"podId,omitempty"`
	State       string            `json:"state,omitempty"` // CONTAINER_CREATED (default), CONTAINER_RUNNING, ...
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Args        []string          `json:"args,omitempty"`
	Env         []string          `json:"env,omitempty"`
}

// toAPI builds the PodSandbox the way containerd fills it from the sandbox
// spec: the namespaces of the pause container, the network one with the netns path.
func (p *Pod) toAPI() *api.PodSandbox {
	ns := []*api.LinuxNamespace{{Type: "pid"}, {Type: "ipc"}, {Type: "uts"}, {Type: "mount"}}
	if p.Netns != "" {
		ns = append(ns, &api.LinuxNamespace{Type: "network", Path: p.Netns})
	}
	return &api.PodSandbox{
		Id: p.ID, Name: p.Name, Uid: p.UID, Namespace: p.Namespace,
		Labels: p.Labels, Annotations: p.Annotations, RuntimeHandler: p.RuntimeHandler,
		Pid: p.Pid, Ips: p.IPs,
		Linux: &api.LinuxPodSandbox{
			CgroupParent: "kubepods-besteffort-pod" + strings.ReplaceAll(p.UID, "-", "_") + ".slice",
			Namespaces:   ns,
		},
	}
}

func (c *Container) toAPI(podID string) *api.Container {
	state := api.ContainerState_CONTAINER_CREATED
	if v, ok := api.ContainerState_value[c.State]; ok && c.State != "" {
		state = api.ContainerState(v)
	}
	if c.PodID != "" {
		podID = c.PodID
	}
	return &api.Container{
		Id: c.ID, PodSandboxId: podID, Name: c.Name, State: state,
		Labels: c.Labels, Annotations: c.Annotations, Args: c.Args, Env: c.Env,
	}
}

type runtimeState struct {
	mu         sync.Mutex
	pods       map[string]*api.PodSandbox
	containers map[string]*api.Container
}

func (s *runtimeState) snapshot() ([]*api.PodSandbox, []*api.Container) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pods := make([]*api.PodSandbox, 0, len(s.pods))
	for _, p := range s.pods {
		pods = append(pods, p)
	}
	ctrs := make([]*api.Container, 0, len(s.containers))
	for _, c := range s.containers {
		ctrs = append(ctrs, c)
	}
	sort.Slice(pods, func(i, j int) bool { return pods[i].Id < pods[j].Id })
	sort.Slice(ctrs, func(i, j int) bool { return ctrs[i].Id < ctrs[j].Id })
	return pods, ctrs
}

// ---- commands ----

// Command is one JSON line on stdin.
type Command struct {
	ID         any         `json:"id,omitempty"`
	Cmd        string      `json:"cmd"`
	Pod        *Pod        `json:"pod,omitempty"`
	PodID      string      `json:"podId,omitempty"` // instead of pod: one from the runtime's state
	OmitNetns  bool        `json:"omitNetns,omitempty"`
	Container  *Container  `json:"container,omitempty"`
	Pods       []Pod       `json:"pods,omitempty"`
	Containers []Container `json:"containers,omitempty"`
}

// Reply answers one command.
type Reply struct {
	ID        any             `json:"id,omitempty"`
	OK        bool            `json:"ok"`
	Error     string          `json:"error,omitempty"`
	Adjust    json.RawMessage `json:"adjust,omitempty"`
	Update    json.RawMessage `json:"update,omitempty"`
	Evict     json.RawMessage `json:"evict,omitempty"`
	Plugins   *[]PluginInfo   `json:"plugins,omitempty"`
	ElapsedMs int64           `json:"elapsedMs"`
}

// PluginInfo is one plugin as the adaptation holds it (read by reflection:
// the adaptation has no exported accessor for its plugin list).
type PluginInfo struct {
	Name       string `json:"name"` // "<idx>-<base>"
	Index      string `json:"index"`
	Base       string `json:"base"`
	Events     int64  `json:"events"` // subscribed event mask
	EventNames string `json:"eventNames"`
	Closed     bool   `json:"closed"`
	Pid        int64  `json:"pid"`
}

func listPlugins(r *adaptation.Adaptation) []PluginInfo {
	r.Lock()
	defer r.Unlock()
	out := []PluginInfo{}
	v := reflect.ValueOf(r).Elem().FieldByName("plugins")
	if !v.IsValid() {
		return out
	}
	for i := 0; i < v.Len(); i++ {
		p := v.Index(i).Elem()
		field := func(name string) reflect.Value { return p.FieldByName(name) }
		info := PluginInfo{Index: field("idx").String(), Base: field("base").String()}
		info.Name = info.Index + "-" + info.Base
		if f := field("events"); f.IsValid() {
			info.Events = f.Int()
			m := api.EventMask(info.Events)
			info.EventNames = m.PrettyString()
		}
		if f := field("closed"); f.IsValid() {
			info.Closed = f.Bool()
		}
		if f := field("pid"); f.IsValid() {
			info.Pid = f.Int()
		}
		out = append(out, info)
	}
	return out
}

// pluginConnections returns every plugin's multiplexed connection, to close
// them as the kernel does when a runtime process exits: Adaptation.Stop alone
// leaves external plugins connected (it only kills plugins it launched).
func pluginConnections(r *adaptation.Adaptation) []interface{ Close() error } {
	r.Lock()
	defer r.Unlock()
	var out []interface{ Close() error }
	v := reflect.ValueOf(r).Elem().FieldByName("plugins")
	if !v.IsValid() {
		return nil
	}
	for i := 0; i < v.Len(); i++ {
		f := v.Index(i).Elem().FieldByName("mux")
		if !f.IsValid() || f.IsNil() {
			continue
		}
		mux := reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().Interface()
		if c, ok := mux.(interface{ Close() error }); ok {
			out = append(out, c)
		}
	}
	return out
}

type peer struct {
	socket         string
	runtimeName    string
	runtimeVersion string
	validation     []adaptation.Option // the default validator, when plugins are required
	state          runtimeState
	mu             sync.Mutex // guards nri
	nri            *adaptation.Adaptation
	starting       atomic.Bool // Start() syncs its (absent) pre-installed plugins: not worth an event
}

func (pr *peer) start() error {
	sync := func(ctx context.Context, cb adaptation.SyncCB) error {
		pods, ctrs := pr.state.snapshot()
		updates, err := cb(ctx, pods, ctrs)
		if pr.starting.Load() {
			return err
		}
		ev := map[string]any{"event": "sync", "pods": len(pods), "containers": len(ctrs), "updates": len(updates)}
		if err != nil {
			ev["error"] = err.Error()
		}
		emit(ev)
		return err
	}
	update := func(_ context.Context, updates []*adaptation.ContainerUpdate) ([]*adaptation.ContainerUpdate, error) {
		emit(map[string]any{"event": "update-containers", "updates": len(updates)})
		return nil, nil
	}
	opts := append([]adaptation.Option{
		adaptation.WithSocketPath(pr.socket),
		// No pre-installed plugins: only external ones connecting to the socket.
		adaptation.WithPluginPath("/nonexistent/netclaim-nri-peer/plugins"),
		adaptation.WithPluginConfigPath("/nonexistent/netclaim-nri-peer/conf.d"),
	}, pr.validation...)
	r, err := adaptation.New(pr.runtimeName, pr.runtimeVersion, sync, update, opts...)
	if err != nil {
		return err
	}
	pr.starting.Store(true)
	err = r.Start()
	pr.starting.Store(false)
	if err != nil {
		return err
	}
	pr.mu.Lock()
	pr.nri = r
	pr.mu.Unlock()
	return nil
}

func (pr *peer) adaptation() *adaptation.Adaptation {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return pr.nri
}

func (pr *peer) podFor(c Command) (*api.PodSandbox, error) {
	var pod *api.PodSandbox
	if c.Pod != nil {
		pod = c.Pod.toAPI()
	} else if c.PodID != "" {
		pr.state.mu.Lock()
		known := pr.state.pods[c.PodID]
		pr.state.mu.Unlock()
		if known == nil {
			return nil, fmt.Errorf("unknown pod %q", c.PodID)
		}
		pod = proto.Clone(known).(*api.PodSandbox)
	} else {
		return nil, fmt.Errorf("%s needs pod or podId", c.Cmd)
	}
	if c.OmitNetns && pod.Linux != nil {
		var ns []*api.LinuxNamespace
		for _, n := range pod.Linux.Namespaces {
			if n.Type != "network" {
				ns = append(ns, n)
			}
		}
		pod.Linux.Namespaces = ns
	}
	return pod, nil
}

func (pr *peer) handle(ctx context.Context, c Command) Reply {
	start := time.Now()
	reply := func(err error) Reply {
		r := Reply{ID: c.ID, OK: err == nil, ElapsedMs: time.Since(start).Milliseconds()}
		if err != nil {
			r.Error = err.Error()
		}
		return r
	}
	r := pr.adaptation()
	switch c.Cmd {
	case "run-pod-sandbox", "stop-pod-sandbox", "remove-pod-sandbox":
		pod, err := pr.podFor(c)
		if err != nil {
			return reply(err)
		}
		switch c.Cmd {
		case "run-pod-sandbox":
			err = runPodSandbox(ctx, r, pod)
			if err == nil {
				pr.state.mu.Lock()
				pr.state.pods[pod.Id] = pod
				pr.state.mu.Unlock()
			}
		case "stop-pod-sandbox":
			err = stopPodSandbox(ctx, r, pod)
		case "remove-pod-sandbox":
			err = removePodSandbox(ctx, r, pod)
			pr.state.mu.Lock()
			delete(pr.state.pods, pod.Id)
			for id, ctr := range pr.state.containers {
				if ctr.PodSandboxId == pod.Id {
					delete(pr.state.containers, id)
				}
			}
			pr.state.mu.Unlock()
		}
		return reply(err)
	case "create-container":
		pod, err := pr.podFor(c)
		if err != nil {
			return reply(err)
		}
		if c.Container == nil {
			return reply(fmt.Errorf("create-container needs container"))
		}
		ctr := c.Container.toAPI(pod.Id)
		resp, err := r.CreateContainer(ctx, &adaptation.CreateContainerRequest{Pod: pod, Container: ctr})
		if err != nil {
			return reply(err)
		}
		pr.state.mu.Lock()
		pr.state.containers[ctr.Id] = ctr
		pr.state.mu.Unlock()
		out := reply(nil)
		out.Adjust = protoJSON(resp.GetAdjust())
		updates, _ := json.Marshal(messagesJSON(resp.GetUpdate()))
		evicts, _ := json.Marshal(messagesJSON(resp.GetEvict()))
		out.Update, out.Evict = updates, evicts
		return out
	case "start-container":
		pod, err := pr.podFor(c)
		if err != nil {
			return reply(err)
		}
		if c.Container == nil {
			return reply(fmt.Errorf("start-container needs container"))
		}
		// As containerd 2.x's StartContainer: after the task is created, before it starts; an error fails the start.
		return reply(startContainer(ctx, r, pod, c.Container.toAPI(pod.Id)))
	case "synchronize":
		// Replaces the runtime's pods and containers; NRI sends them in the
		// Synchronize call to every plugin that registers from now on.
		pr.state.mu.Lock()
		pr.state.pods = map[string]*api.PodSandbox{}
		pr.state.containers = map[string]*api.Container{}
		for i := range c.Pods {
			p := c.Pods[i].toAPI()
			pr.state.pods[p.Id] = p
		}
		for i := range c.Containers {
			ctr := c.Containers[i].toAPI("")
			pr.state.containers[ctr.Id] = ctr
		}
		pr.state.mu.Unlock()
		return reply(nil)
	case "plugins":
		out := reply(nil)
		list := listPlugins(r)
		out.Plugins = &list
		return out
	case "restart":
		// Like a runtime restart: every plugin connection is closed, the socket
		// re-created; plugins must reconnect and get a fresh Synchronize.
		conns := pluginConnections(r)
		r.Stop()
		for _, c := range conns {
			_ = c.Close()
		}
		return reply(pr.start())
	}
	return reply(fmt.Errorf("unknown command %q", c.Cmd))
}

func messagesJSON[T proto.Message](ms []T) []json.RawMessage {
	out := make([]json.RawMessage, 0, len(ms))
	for _, m := range ms {
		out = append(out, protoJSON(m))
	}
	return out
}

func main() {
	socket := flag.String("socket", "", "NRI socket to listen on (containerd: /var/run/nri/nri.sock)")
	reqTimeout := flag.Duration("request-timeout", 2*time.Second, "plugin request timeout (containerd plugin_request_timeout)")
	regTimeout := flag.Duration("registration-timeout", 5*time.Second, "plugin registration timeout (containerd plugin_registration_timeout)")
	runtimeName := flag.String("runtime-name", "containerd", "runtime name sent in Configure")
	runtimeVersion := flag.String("runtime-version", defaultRuntimeVersion, "runtime version sent in Configure")
	required := flag.String("required-plugins", "", "comma-separated plugins the default validator requires for container creation (containerd default_validator.required_plugins)")
	tolerate := flag.String("tolerate-missing-plugins-annotation", "", "annotation that lets a pod's containers start without them (default_validator.tolerate_missing_plugins_annotation)")
	flag.Parse()
	if *socket == "" {
		fmt.Fprintln(os.Stderr, "usage: nri-peer --socket PATH [--request-timeout 2s] [--registration-timeout 5s]")
		os.Exit(2)
	}
	nrilog.Set(peerLogger{})
	adaptation.SetPluginRequestTimeout(*reqTimeout)
	adaptation.SetPluginRegistrationTimeout(*regTimeout)

	var requiredList []string
	for _, p := range strings.Split(*required, ",") {
		if p = strings.TrimSpace(p); p != "" {
			requiredList = append(requiredList, p)
		}
	}
	validation, err := validatorOptions(requiredList, *tolerate)
	if err != nil {
		fmt.Fprintf(os.Stderr, "nri-peer: %v\n", err)
		os.Exit(2)
	}
	pr := &peer{socket: *socket, runtimeName: *runtimeName, runtimeVersion: *runtimeVersion, validation: validation,
		state: runtimeState{pods: map[string]*api.PodSandbox{}, containers: map[string]*api.Container{}}}
	if err := pr.start(); err != nil {
		fmt.Fprintf(os.Stderr, "nri-peer: %v\n", err)
		os.Exit(1)
	}
	emit(map[string]any{"event": "ready", "socket": *socket, "nri": nriModuleVersion, "podEvents": podEventDelivery,
		"runtimeName": *runtimeName, "runtimeVersion": *runtimeVersion,
		"requestTimeoutMs": reqTimeout.Milliseconds(), "registrationTimeoutMs": regTimeout.Milliseconds(), "pid": os.Getpid(),
		"requiredPlugins": requiredList})

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	lines := make(chan []byte)
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			lines <- append([]byte(nil), sc.Bytes()...)
		}
		close(lines)
	}()
	defer func() { pr.adaptation().Stop() }()
	for {
		select {
		case <-ctx.Done():
			return
		case line, ok := <-lines:
			if !ok {
				return
			}
			if len(line) == 0 {
				continue
			}
			var c Command
			if err := json.Unmarshal(line, &c); err != nil {
				emit(Reply{Error: "bad command: " + err.Error()})
				continue
			}
			if c.Cmd == "exit" {
				emit(Reply{ID: c.ID, OK: true})
				return
			}
			// One command at a time, in order, like a runtime serialising a pod's lifecycle.
			emit(pr.handle(ctx, c))
		}
	}
}
