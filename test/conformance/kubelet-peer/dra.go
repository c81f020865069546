package main

// The kubelet's DRA plugin manager and client (pkg/kubelet/cm/dra/plugin).

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	grpcstats "google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
	drahealthv1 "k8s.io/kubelet/pkg/apis/dra-health/v1"
	drahealthv1alpha1 "k8s.io/kubelet/pkg/apis/dra-health/v1alpha1"
	drapbv1 "k8s.io/kubelet/pkg/apis/dra/v1"
	drapbv1beta1 "k8s.io/kubelet/pkg/apis/dra/v1beta1"
)

const defaultClientCallTimeout = 45 * time.Second

// Sorted by most recent first, as in the kubelet.
var servicesSupportedByKubelet = []string{drapbv1.DRAPluginService, drapbv1beta1.DRAPluginService}
var healthServicesSupportedByKubelet = []string{drahealthv1.DRAResourceHealthService, drahealthv1alpha1.DRAResourceHealthService}

// shortService maps "v1" / "v1beta1" / "v1alpha1" to the full service strings.
func shortService(s string, health bool) string {
	switch {
	case s == "v1" && health:
		return drahealthv1.DRAResourceHealthService
	case s == "v1alpha1" && health:
		return drahealthv1alpha1.DRAResourceHealthService
	case s == "v1":
		return drapbv1.DRAPluginService
	case s == "v1beta1":
		return drapbv1beta1.DRAPluginService
	}
	return s
}

type draPlugin struct {
	driverName          string
	endpoint            string
	chosenService       string
	chosenHealthService string
	clientCallTimeout   time.Duration
	conn                *grpc.ClientConn
	connected           bool // protected by draManager.mu
	healthCancel        context.CancelFunc
}

// ConnectionEvent reports the kubelet's view of a plugin's service connection.
type ConnectionEvent struct {
	Event     string `json:"event"` // "connection"
	Driver    string `json:"driver"`
	Endpoint  string `json:"endpoint"`
	Connected bool   `json:"connected"`
}

// HealthEvent carries one NodeWatchResources message (converted to v1 like the kubelet does).
type HealthEvent struct {
	Event    string `json:"event"` // "health" or "health-stream-ended"
	Driver   string `json:"driver"`
	Service  string `json:"service"`
	Response any    `json:"response,omitempty"`
	Error    string `json:"error,omitempty"`
	Code     string `json:"code,omitempty"`
}

type draManager struct {
	ctx          context.Context
	mu           sync.Mutex
	store        map[string][]*draPlugin
	healthStream bool
	onEvent      func(any)
}

func newDRAManager(ctx context.Context, healthStream bool, onEvent func(any)) *draManager {
	return &draManager{ctx: ctx, store: map[string][]*draPlugin{}, healthStream: healthStream, onEvent: onEvent}
}

func validateSupportedServices(supportedServices []string) (string, error) {
	if len(supportedServices) == 0 {
		return "", errors.New("empty list of supported gRPC services (aka supported versions)")
	}
	for _, service := range supportedServices {
		if slices.Contains(servicesSupportedByKubelet, service) {
			return service, nil
		}
	}
	return "", fmt.Errorf("none of services supported by the plugin (%q) are supported by the kubelet (%q)", supportedServices, servicesSupportedByKubelet)
}

func pickHealthService(supportedServices []string) string {
	for _, service := range healthServicesSupportedByKubelet {
		if slices.Contains(supportedServices, service) {
			return service
		}
	}
	return ""
}

func (m *draManager) validatePlugin(driverName, endpoint string, versions []string) error {
	if _, err := validateSupportedServices(versions); err != nil {
		return fmt.Errorf("invalid supported gRPC versions of DRA driver plugin %s at endpoint %s: %w", driverName, endpoint, err)
	}
	return nil
}

// statsHandler tracks connect/disconnect like the kubelet's monitoredPlugin.
type statsHandler struct {
	m *draManager
	p *draPlugin
}

func (h *statsHandler) TagRPC(ctx context.Context, _ *grpcstats.RPCTagInfo) context.Context {
	return ctx
}
func (h *statsHandler) HandleRPC(context.Context, grpcstats.RPCStats) {}
func (h *statsHandler) TagConn(ctx context.Context, _ *grpcstats.ConnTagInfo) context.Context {
	return ctx
}
func (h *statsHandler) HandleConn(_ context.Context, stats grpcstats.ConnStats) {
	connected := false
	switch stats.(type) {
	case *grpcstats.ConnBegin:
		connected = true
	case *grpcstats.ConnEnd:
		// The kubelet asks for a reconnect so that it notices a restarted plugin.
		go func() {
			if h.p.conn != nil {
				h.p.conn.Connect()
			}
		}()
	default:
		return
	}
	if h.m.ctx.Err() != nil {
		return
	}
	h.m.mu.Lock()
	changed := h.p.connected != connected
	h.p.connected = connected
	h.m.mu.Unlock()
	if changed && h.m.onEvent != nil {
		h.m.onEvent(ConnectionEvent{Event: "connection", Driver: h.p.driverName, Endpoint: h.p.endpoint, Connected: connected})
	}
}

// newClient creates the plugin's connection the way DRAPluginManager.add does.
func (m *draManager) newClient(driverName, endpoint, chosenService, chosenHealthService string, track bool) (*draPlugin, error) {
	p := &draPlugin{driverName: driverName, endpoint: endpoint, chosenService: chosenService,
		chosenHealthService: chosenHealthService, clientCallTimeout: defaultClientCallTimeout}
	options := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if track {
		options = append(options, grpc.WithStatsHandler(&statsHandler{m: m, p: p}))
	}
	conn, err := grpc.NewClient("unix:"+endpoint, options...)
	if err != nil {
		return nil, fmt.Errorf("create gRPC connection to DRA driver %s plugin at endpoint %s: %w", driverName, endpoint, err)
	}
	p.conn = conn
	return p, nil
}

func (m *draManager) registerPlugin(driverName, endpoint string, versions []string) (*draPlugin, error) {
	chosenService, err := validateSupportedServices(versions)
	if err != nil {
		return nil, fmt.Errorf("invalid supported gRPC versions of DRA driver plugin %s at endpoint %s: %w", driverName, endpoint, err)
	}
	chosenHealthService := pickHealthService(versions)

	m.mu.Lock()
	defer m.mu.Unlock()
	for _, old := range m.store[driverName] {
		if old.endpoint == endpoint {
			return nil, fmt.Errorf("endpoint %s already registered for DRA driver plugin %s", endpoint, driverName)
		}
	}
	p, err := m.newClient(driverName, endpoint, chosenService, chosenHealthService, true)
	if err != nil {
		return nil, err
	}
	if m.healthStream && chosenHealthService != "" {
		ctx, cancel := context.WithCancel(m.ctx)
		p.healthCancel = cancel
		go m.healthLoop(ctx, p)
	}
	p.conn.Connect()
	m.store[driverName] = append(m.store[driverName], p)
	return p, nil
}

func (m *draManager) deregister(driverName, endpoint string) {
	m.mu.Lock()
	var p *draPlugin
	plugins := m.store[driverName]
	for i, old := range plugins {
		if old.endpoint == endpoint {
			p = old
			m.store[driverName] = slices.Delete(plugins, i, i+1)
			break
		}
	}
	if len(m.store[driverName]) == 0 {
		delete(m.store, driverName)
	}
	m.mu.Unlock()
	if p != nil {
		if p.healthCancel != nil {
			p.healthCancel()
		}
		p.conn.Close()
	}
}

// get is DRAPluginManager.get: the most recent connected plugin, else the most recent one.
func (m *draManager) get(driverName string) (*draPlugin, error) {
	if driverName == "" {
		return nil, errors.New("DRA driver name is empty")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	plugins := m.store[driverName]
	if len(plugins) == 0 {
		return nil, fmt.Errorf("DRA driver %s is not registered", driverName)
	}
	for i := len(plugins) - 1; i >= 0; i-- {
		if plugins[i].connected {
			return plugins[i], nil
		}
	}
	return plugins[len(plugins)-1], nil
}

// PluginSummary is one registered plugin instance, as "plugins" lists them.
type PluginSummary struct {
	Driver        string `json:"driver"`
	Endpoint      string `json:"endpoint"`
	Service       string `json:"service"`
	HealthService string `json:"healthService,omitempty"`
	Connected     bool   `json:"connected"`
}

func (m *draManager) list() []PluginSummary {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []PluginSummary{}
	for _, plugins := range m.store {
		for _, p := range plugins {
			out = append(out, PluginSummary{Driver: p.driverName, Endpoint: p.endpoint, Service: p.chosenService,
				HealthService: p.chosenHealthService, Connected: p.connected})
		}
	}
	slices.SortFunc(out, func(a, b PluginSummary) int {
		if a.Driver != b.Driver {
			if a.Driver < b.Driver {
				return -1
			}
			return 1
		}
		return 0
	})
	return out
}

func (p *draPlugin) nodePrepareResources(ctx context.Context, req *drapbv1.NodePrepareResourcesRequest) (*drapbv1.NodePrepareResourcesResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, p.clientCallTimeout)
	defer cancel()
	switch p.chosenService {
	case drapbv1beta1.DRAPluginService:
		client := drapbv1beta1.NewDRAPluginClient(p.conn)
		return drapbv1beta1.V1Beta1ClientWrapper{DRAPluginClient: client}.NodePrepareResources(ctx, req)
	case drapbv1.DRAPluginService:
		return drapbv1.NewDRAPluginClient(p.conn).NodePrepareResources(ctx, req)
	}
	return nil, fmt.Errorf("internal error: unsupported chosen service: %q", p.chosenService)
}

func (p *draPlugin) nodeUnprepareResources(ctx context.Context, req *drapbv1.NodeUnprepareResourcesRequest) (*drapbv1.NodeUnprepareResourcesResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, p.clientCallTimeout)
	defer cancel()
	switch p.chosenService {
	case drapbv1beta1.DRAPluginService:
		client := drapbv1beta1.NewDRAPluginClient(p.conn)
		return drapbv1beta1.V1Beta1ClientWrapper{DRAPluginClient: client}.NodeUnprepareResources(ctx, req)
	case drapbv1.DRAPluginService:
		return drapbv1.NewDRAPluginClient(p.conn).NodeUnprepareResources(ctx, req)
	}
	return nil, fmt.Errorf("internal error: unsupported chosen service: %q", p.chosenService)
}

func (p *draPlugin) nodeWatchResources(ctx context.Context) (drahealthv1.DRAResourceHealth_NodeWatchResourcesClient, error) {
	switch p.chosenHealthService {
	case drahealthv1.DRAResourceHealthService:
		return drahealthv1.NewDRAResourceHealthClient(p.conn).NodeWatchResources(ctx, &drahealthv1.NodeWatchResourcesRequest{})
	case drahealthv1alpha1.DRAResourceHealthService:
		client := drahealthv1alpha1.NewDRAResourceHealthClient(p.conn)
		return drahealthv1.V1Alpha1ClientWrapper{Client: client}.NodeWatchResources(ctx, &drahealthv1.NodeWatchResourcesRequest{})
	}
	return nil, fmt.Errorf("internal error: unsupported chosen health service: %q", p.chosenHealthService)
}

// healthLoop is the kubelet's wait.UntilWithContext(5 s) around the stream.
func (m *draManager) healthLoop(ctx context.Context, p *draPlugin) {
	for ctx.Err() == nil {
		err := streamHealth(ctx, p, func(resp *drahealthv1.NodeWatchResourcesResponse) {
			m.onEvent(HealthEvent{Event: "health", Driver: p.driverName, Service: p.chosenHealthService, Response: protoJSON(resp)})
		})
		if ctx.Err() != nil {
			return
		}
		ev := HealthEvent{Event: "health-stream-ended", Driver: p.driverName, Service: p.chosenHealthService}
		if err != nil {
			ev.Error, ev.Code = err.Error(), status.Code(err).String()
		}
		m.onEvent(ev)
		if status.Code(err) == codes.Unimplemented {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
		}
	}
}

func streamHealth(ctx context.Context, p *draPlugin, each func(*drahealthv1.NodeWatchResourcesResponse)) error {
	stream, err := p.nodeWatchResources(ctx)
	if err != nil {
		return err
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			return err
		}
		each(resp)
	}
}
