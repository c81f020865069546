package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	drahealthv1 "k8s.io/kubelet/pkg/apis/dra-health/v1"
	drapbv1 "k8s.io/kubelet/pkg/apis/dra/v1"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

// protoJSON renders a message with protojson (lowerCamelCase field names).
func protoJSON(m proto.Message) json.RawMessage {
	b, err := protojson.Marshal(m)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"marshalError": err.Error()})
	}
	return b
}

// Claim is the JSON form of a claim in a request: {"namespace","uid","name"}.
type Claim struct {
	Namespace string `json:"namespace"`
	UID       string `json:"uid"`
	Name      string `json:"name"`
}

func toClaims(cs []Claim) []*drapbv1.Claim {
	out := make([]*drapbv1.Claim, 0, len(cs))
	for _, c := range cs {
		out = append(out, &drapbv1.Claim{Namespace: c.Namespace, Uid: c.UID, Name: c.Name})
	}
	return out
}

// Reply answers one command.
type Reply struct {
	ID        any              `json:"id,omitempty"`
	OK        bool             `json:"ok"`
	Error     string           `json:"error,omitempty"`
	Code      string           `json:"code,omitempty"` // gRPC status code of a failed call
	Response  json.RawMessage  `json:"response,omitempty"`
	Plugins   *[]PluginSummary `json:"plugins,omitempty"`
	Service   string           `json:"service,omitempty"`
	Endpoint  string           `json:"endpoint,omitempty"`
	Info      json.RawMessage  `json:"info,omitempty"`
	Messages  int              `json:"messages,omitempty"`
	ElapsedMs int64            `json:"elapsedMs"`
}

// Command is one JSON line on stdin in serve mode.
type Command struct {
	ID        any     `json:"id,omitempty"`
	Cmd       string  `json:"cmd"`
	Driver    string  `json:"driver,omitempty"`   // registered driver to call
	Endpoint  string  `json:"endpoint,omitempty"` // or a socket to call directly ...
	Service   string  `json:"service,omitempty"`  // ... with this service (v1, v1beta1, full names too)
	Claims    []Claim `json:"claims,omitempty"`
	TimeoutMs int64   `json:"timeoutMs,omitempty"` // call timeout instead of the kubelet's 45 s
	Socket    string  `json:"socket,omitempty"`    // get-info
	Duration  int64   `json:"durationMs,omitempty"`
}

func errReply(id any, err error) Reply {
	r := Reply{ID: id, Error: err.Error()}
	if s, ok := status.FromError(err); ok && s.Code() != 0 {
		r.Code = s.Code().String()
	}
	return r
}

func (m *draManager) pluginFor(c Command, health bool) (*draPlugin, bool, error) {
	if c.Endpoint != "" {
		svc := shortService(c.Service, health)
		if svc == "" {
			if health {
				svc = drahealthv1.DRAResourceHealthService
			} else {
				svc = drapbv1.DRAPluginService
			}
		}
		var p *draPlugin
		var err error
		if health {
			p, err = m.newClient(c.Driver, c.Endpoint, "", svc, false)
		} else {
			p, err = m.newClient(c.Driver, c.Endpoint, svc, "", false)
		}
		return p, true, err
	}
	p, err := m.get(c.Driver)
	return p, false, err
}

func (m *draManager) prepare(ctx context.Context, c Command, unprepare bool) Reply {
	start := time.Now()
	p, adhoc, err := m.pluginFor(c, false)
	if err != nil {
		return errReply(c.ID, err)
	}
	if adhoc {
		defer p.conn.Close()
	}
	if c.TimeoutMs > 0 {
		q := *p
		q.clientCallTimeout = time.Duration(c.TimeoutMs) * time.Millisecond
		p = &q
	}
	var resp proto.Message
	if unprepare {
		resp, err = p.nodeUnprepareResources(ctx, &drapbv1.NodeUnprepareResourcesRequest{Claims: toClaims(c.Claims)})
	} else {
		resp, err = p.nodePrepareResources(ctx, &drapbv1.NodePrepareResourcesRequest{Claims: toClaims(c.Claims)})
	}
	if err != nil {
		r := errReply(c.ID, err)
		r.Service, r.Endpoint, r.ElapsedMs = p.chosenService, p.endpoint, time.Since(start).Milliseconds()
		return r
	}
	return Reply{ID: c.ID, OK: true, Response: protoJSON(resp), Service: p.chosenService, Endpoint: p.endpoint,
		ElapsedMs: time.Since(start).Milliseconds()}
}

func getInfo(ctx context.Context, socket string) (*registerapi.PluginInfo, error) {
	client, conn, err := dialRegistration(ctx, socket)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, getInfoTimeout)
	defer cancel()
	return client.GetInfo(ctx, &registerapi.InfoRequest{})
}

// cmdServe: the long-running mode. See README for the command set.
func cmdServe(args []string) int {
	fl := flag.NewFlagSet("serve", flag.ContinueOnError)
	registry := fl.String("registry", "", "plugin registry directory to watch like the kubelet (optional)")
	health := fl.Bool("health-stream", true, "open NodeWatchResources for plugins that advertise a health service (kubelet 1.37 default)")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	dra := newDRAManager(ctx, *health, emit)
	if *registry != "" {
		events := make(chan RegistrationEvent, 64)
		pm := newPluginManager(*registry, dra, events)
		if err := pm.run(ctx); err != nil {
			logf("%v", err)
			return 1
		}
		go func() {
			for ev := range events {
				emit(ev)
			}
		}()
	}
	emit(map[string]any{"event": "ready", "registry": *registry, "pid": os.Getpid()})

	lines := make(chan []byte)
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			lines <- append([]byte(nil), sc.Bytes()...)
		}
		close(lines)
	}()
	for {
		select {
		case <-ctx.Done():
			return 0
		case line, ok := <-lines:
			if !ok {
				return 0
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
				return 0
			}
			go func() { emit(handle(ctx, dra, c)) }()
		}
	}
}

func handle(ctx context.Context, dra *draManager, c Command) Reply {
	switch c.Cmd {
	case "plugins":
		list := dra.list()
		return Reply{ID: c.ID, OK: true, Plugins: &list}
	case "prepare":
		return dra.prepare(ctx, c, false)
	case "unprepare":
		return dra.prepare(ctx, c, true)
	case "get-info":
		start := time.Now()
		info, err := getInfo(ctx, c.Socket)
		if err != nil {
			return errReply(c.ID, err)
		}
		return Reply{ID: c.ID, OK: true, Info: protoJSON(info), ElapsedMs: time.Since(start).Milliseconds()}
	case "watch-health":
		// One-off stream for durationMs (default 5 s); messages arrive as "health" events.
		p, adhoc, err := dra.pluginFor(c, true)
		if err != nil {
			return errReply(c.ID, err)
		}
		if adhoc {
			defer p.conn.Close()
		}
		d := time.Duration(c.Duration) * time.Millisecond
		if d <= 0 {
			d = 5 * time.Second
		}
		sctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		n := 0
		err = streamHealth(sctx, p, func(resp *drahealthv1.NodeWatchResourcesResponse) {
			n++
			emit(HealthEvent{Event: "health", Driver: p.driverName, Service: p.chosenHealthService, Response: protoJSON(resp)})
		})
		// The stream's deadline is also sent to the server (grpc-timeout), which may end the stream
		// with DEADLINE_EXCEEDED a moment before this side's timer fires: that is the deadline too.
		if err != nil && sctx.Err() == nil && status.Code(err) != codes.DeadlineExceeded {
			r := errReply(c.ID, err)
			r.Messages = n
			return r
		}
		return Reply{ID: c.ID, OK: true, Messages: n, Service: p.chosenHealthService}
	}
	return Reply{ID: c.ID, Error: fmt.Sprintf("unknown command %q", c.Cmd)}
}

func cmdRegister(args []string) int {
	fl := flag.NewFlagSet("register", flag.ContinueOnError)
	registry := fl.String("registry", "", "plugin registry directory to watch (required)")
	timeout := fl.Duration("timeout", 10*time.Second, "how long to wait for a registration attempt")
	if err := fl.Parse(args); err != nil || *registry == "" {
		fmt.Fprintln(os.Stderr, "usage: kubelet-peer register --registry DIR [--timeout 10s]")
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	events := make(chan RegistrationEvent, 16)
	pm := newPluginManager(*registry, newDRAManager(ctx, false, func(any) {}), events)
	if err := pm.run(ctx); err != nil {
		logf("%v", err)
		return 1
	}
	select {
	case ev := <-events:
		emit(ev)
		if ev.Event == "registered" {
			return 0
		}
		return 1
	case <-ctx.Done():
		emit(RegistrationEvent{Event: "registration-failed", Socket: *registry, Error: "timed out waiting for a plugin socket"})
		return 1
	}
}

func cmdGetInfo(args []string) int {
	fl := flag.NewFlagSet("get-info", flag.ContinueOnError)
	socket := fl.String("socket", "", "registration socket")
	if err := fl.Parse(args); err != nil || *socket == "" {
		fmt.Fprintln(os.Stderr, "usage: kubelet-peer get-info --socket SOCK")
		return 2
	}
	info, err := getInfo(context.Background(), *socket)
	if err != nil {
		emit(errReply(nil, err))
		return 1
	}
	emit(Reply{OK: true, Info: protoJSON(info)})
	return 0
}

func cmdPrepare(args []string, unprepare bool) int {
	name := "prepare"
	if unprepare {
		name = "unprepare"
	}
	fl := flag.NewFlagSet(name, flag.ContinueOnError)
	endpoint := fl.String("endpoint", "", "DRA service socket (dra.sock)")
	service := fl.String("service", "v1", "v1 or v1beta1 (or the full v1.DRAPlugin / v1beta1.DRAPlugin)")
	claims := fl.String("claims", "", `JSON array of {"namespace","uid","name"}`)
	timeout := fl.Duration("timeout", defaultClientCallTimeout, "call timeout")
	if err := fl.Parse(args); err != nil || *endpoint == "" || *claims == "" {
		fmt.Fprintf(os.Stderr, "usage: kubelet-peer %s --endpoint SOCK [--service v1|v1beta1] --claims JSON\n", name)
		return 2
	}
	var cs []Claim
	if err := json.Unmarshal([]byte(*claims), &cs); err != nil {
		fmt.Fprintf(os.Stderr, "kubelet-peer: --claims: %v\n", err)
		return 2
	}
	svc := shortService(*service, false)
	if svc != drapbv1.DRAPluginService && svc != "v1beta1.DRAPlugin" {
		fmt.Fprintf(os.Stderr, "kubelet-peer: unknown --service %q\n", *service)
		return 2
	}
	dra := newDRAManager(context.Background(), false, nil)
	r := dra.prepare(context.Background(), Command{Endpoint: *endpoint, Service: svc, Claims: cs, TimeoutMs: timeout.Milliseconds()}, unprepare)
	emit(r)
	if !r.OK {
		return 1
	}
	return 0
}

func cmdWatchHealth(args []string) int {
	fl := flag.NewFlagSet("watch-health", flag.ContinueOnError)
	endpoint := fl.String("endpoint", "", "DRA service socket")
	service := fl.String("service", "v1", "health service: v1 or v1alpha1")
	duration := fl.Duration("duration", 5*time.Second, "how long to stream")
	if err := fl.Parse(args); err != nil || *endpoint == "" {
		fmt.Fprintln(os.Stderr, "usage: kubelet-peer watch-health --endpoint SOCK [--service v1|v1alpha1] [--duration 5s]")
		return 2
	}
	dra := newDRAManager(context.Background(), false, nil)
	r := handle(context.Background(), dra, Command{Cmd: "watch-health", Endpoint: *endpoint, Service: *service, Duration: duration.Milliseconds()})
	emit(r)
	if !r.OK {
		return 1
	}
	return 0
}
