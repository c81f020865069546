// Command dra-plugin is a trivial DRA kubelet plugin used only to self-test
// kubelet-peer: it serves the registration socket and the DRA services named in
// --versions (v1.DRAPlugin, v1beta1.DRAPlugin, v1.DRAResourceHealth,
// v1alpha1.DRAResourceHealth) with canned answers, from the generated servers
// of k8s.io/kubelet (the same code the Go helper kubeletplugin registers).
//
// Canned behaviour:
//   - NodePrepareResources: per claim one device {requestNames:["req-0"],
//     poolName:"pool-a", deviceName:"dev-<claim name>", cdiDeviceIds:
//     ["<driver>/net=<claim name>"]}; a claim whose name contains "fail" gets
//     error "canned failure for <ns>/<name>".
//   - NodeUnprepareResources: an empty entry per claim ("fail" -> error).
//   - Health: every 500 ms the full list [{pool-a/dev-0 HEALTHY}].
//
// stdout: JSON lines {"event":"ready"|"get-info"|"registration-status"|"rpc",...}.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	drahealthv1 "k8s.io/kubelet/pkg/apis/dra-health/v1"
	drahealthv1alpha1 "k8s.io/kubelet/pkg/apis/dra-health/v1alpha1"
	drapbv1 "k8s.io/kubelet/pkg/apis/dra/v1"
	drapbv1beta1 "k8s.io/kubelet/pkg/apis/dra/v1beta1"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

var outMu sync.Mutex

func emit(v map[string]any) {
	b, _ := json.Marshal(v)
	outMu.Lock()
	defer outMu.Unlock()
	os.Stdout.Write(append(b, '\n'))
}

type registration struct {
	registerapi.UnimplementedRegistrationServer
	info *registerapi.PluginInfo
}

func (r *registration) GetInfo(context.Context, *registerapi.InfoRequest) (*registerapi.PluginInfo, error) {
	emit(map[string]any{"event": "get-info"})
	return r.info, nil
}

func (r *registration) NotifyRegistrationStatus(_ context.Context, s *registerapi.RegistrationStatus) (*registerapi.RegistrationStatusResponse, error) {
	emit(map[string]any{"event": "registration-status", "registered": s.PluginRegistered, "error": s.Error})
	return &registerapi.RegistrationStatusResponse{}, nil
}

type draServer struct {
	drapbv1.UnimplementedDRAPluginServer
	driver string
}

func (d *draServer) NodePrepareResources(_ context.Context, req *drapbv1.NodePrepareResourcesRequest) (*drapbv1.NodePrepareResourcesResponse, error) {
	resp := &drapbv1.NodePrepareResourcesResponse{Claims: map[string]*drapbv1.NodePrepareResourceResponse{}}
	for _, c := range req.Claims {
		if strings.Contains(c.Name, "fail") {
			resp.Claims[c.Uid] = &drapbv1.NodePrepareResourceResponse{Error: fmt.Sprintf("canned failure for %s/%s", c.Namespace, c.Name)}
			continue
		}
		resp.Claims[c.Uid] = &drapbv1.NodePrepareResourceResponse{Devices: []*drapbv1.Device{{
			RequestNames: []string{"req-0"}, PoolName: "pool-a", DeviceName: "dev-" + c.Name,
			CdiDeviceIds: []string{d.driver + "/net=" + c.Name},
		}}}
	}
	return resp, nil
}

func (d *draServer) NodeUnprepareResources(_ context.Context, req *drapbv1.NodeUnprepareResourcesRequest) (*drapbv1.NodeUnprepareResourcesResponse, error) {
	resp := &drapbv1.NodeUnprepareResourcesResponse{Claims: map[string]*drapbv1.NodeUnprepareResourceResponse{}}
	for _, c := range req.Claims {
		r := &drapbv1.NodeUnprepareResourceResponse{}
		if strings.Contains(c.Name, "fail") {
			r.Error = fmt.Sprintf("canned failure for %s/%s", c.Namespace, c.Name)
		}
		resp.Claims[c.Uid] = r
	}
	return resp, nil
}

type healthV1 struct {
	drahealthv1.UnimplementedDRAResourceHealthServer
}

func (healthV1) NodeWatchResources(_ *drahealthv1.NodeWatchResourcesRequest, s grpc.ServerStreamingServer[drahealthv1.NodeWatchResourcesResponse]) error {
	for {
		msg := &drahealthv1.NodeWatchResourcesResponse{Devices: []*drahealthv1.DeviceHealth{{
			Device: &drahealthv1.DeviceIdentifier{PoolName: "pool-a", DeviceName: "dev-0"},
			Health: drahealthv1.HealthStatus_HEALTHY, LastUpdatedTime: time.Now().Unix(), HealthCheckTimeoutSeconds: 30,
		}}}
		if err := s.Send(msg); err != nil {
			return err
		}
		select {
		case <-s.Context().Done():
			return nil
		case <-time.After(500 * time.Millisecond):
		}
	}
}

type healthV1alpha1 struct {
	drahealthv1alpha1.UnimplementedDRAResourceHealthServer
}

func (healthV1alpha1) NodeWatchResources(_ *drahealthv1alpha1.NodeWatchResourcesRequest, s grpc.ServerStreamingServer[drahealthv1alpha1.NodeWatchResourcesResponse]) error {
	for {
		msg := &drahealthv1alpha1.NodeWatchResourcesResponse{Devices: []*drahealthv1alpha1.DeviceHealth{{
			Device: &drahealthv1alpha1.DeviceIdentifier{PoolName: "pool-a", DeviceName: "dev-0"},
			Health: drahealthv1alpha1.HealthStatus_HEALTHY, LastUpdatedTime: time.Now().Unix(),
		}}}
		if err := s.Send(msg); err != nil {
			return err
		}
		select {
		case <-s.Context().Done():
			return nil
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, err
	}
	_ = os.Remove(path)
	return net.Listen("unix", path)
}

func interceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if !strings.HasPrefix(info.FullMethod, "/pluginregistration.") {
		emit(map[string]any{"event": "rpc", "method": info.FullMethod})
	}
	return handler(ctx, req)
}

func streamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	emit(map[string]any{"event": "rpc", "method": info.FullMethod})
	return handler(srv, ss)
}

func main() {
	driver := flag.String("driver-name", "test.netclaim.dev", "driver name reported by GetInfo")
	registry := flag.String("registry", "", "plugin registry dir (registration socket <driver>-reg.sock goes there)")
	pluginDir := flag.String("plugin-dir", "", "dir for dra.sock")
	versions := flag.String("versions", drapbv1.DRAPluginService, "comma-separated supported_versions; the DRA/health services named are served")
	ptype := flag.String("type", registerapi.DRAPlugin, "plugin type reported by GetInfo")
	sameSocket := flag.Bool("same-socket", false, "serve DRA on the registration socket and report an empty endpoint")
	flag.Parse()
	if *registry == "" || (*pluginDir == "" && !*sameSocket) {
		fmt.Fprintln(os.Stderr, "usage: dra-plugin --registry DIR --plugin-dir DIR [--driver-name N] [--versions v1.DRAPlugin,...]")
		os.Exit(2)
	}
	var vs []string
	for _, v := range strings.Split(*versions, ",") {
		if v = strings.TrimSpace(v); v != "" {
			vs = append(vs, v)
		}
	}

	regPath := filepath.Join(*registry, *driver+"-reg.sock")
	endpoint := ""
	if !*sameSocket {
		endpoint = filepath.Join(*pluginDir, "dra.sock")
	}

	dra := grpc.NewServer(grpc.UnaryInterceptor(interceptor), grpc.StreamInterceptor(streamInterceptor))
	impl := &draServer{driver: *driver}
	for _, v := range vs {
		switch v {
		case drapbv1.DRAPluginService:
			drapbv1.RegisterDRAPluginServer(dra, impl)
		case drapbv1beta1.DRAPluginService:
			drapbv1beta1.RegisterDRAPluginServer(dra, drapbv1beta1.V1ServerWrapper{DRAPluginServer: impl})
		case drahealthv1.DRAResourceHealthService:
			drahealthv1.RegisterDRAResourceHealthServer(dra, healthV1{})
		case drahealthv1alpha1.DRAResourceHealthService:
			drahealthv1alpha1.RegisterDRAResourceHealthServer(dra, healthV1alpha1{})
		}
	}
	reg := dra
	if !*sameSocket {
		reg = grpc.NewServer(grpc.UnaryInterceptor(interceptor))
	}
	registerapi.RegisterRegistrationServer(reg, &registration{info: &registerapi.PluginInfo{
		Type: *ptype, Name: *driver, Endpoint: endpoint, SupportedVersions: vs,
	}})

	// The DRA socket first, then the registration socket (as the Go helper does).
	if !*sameSocket {
		l, err := listen(endpoint)
		if err != nil {
			fmt.Fprintf(os.Stderr, "dra-plugin: %v\n", err)
			os.Exit(1)
		}
		go func() { _ = dra.Serve(l) }()
	}
	rl, err := listen(regPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "dra-plugin: %v\n", err)
		os.Exit(1)
	}
	go func() { _ = reg.Serve(rl) }()
	emit(map[string]any{"event": "ready", "registrationSocket": regPath, "endpoint": endpoint, "versions": vs, "pid": os.Getpid()})

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	reg.Stop()
	dra.Stop()
	_ = os.Remove(regPath)
	if endpoint != "" {
		_ = os.Remove(endpoint)
	}
}
