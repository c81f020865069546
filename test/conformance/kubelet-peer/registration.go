package main

// The kubelet's plugin manager, reduced to the DRA handler: watcher
// (desired state), reconciler (actual state) and the registration operation.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

// Kubelet constants (operation_generator.go, plugin_manager.go, exponential_backoff.go).
const (
	dialTimeoutDuration        = 10 * time.Second
	getInfoTimeout             = 1 * time.Second
	notifyTimeoutDuration      = 5 * time.Second
	reconcilerLoopSleep        = 1 * time.Second
	initialDurationBeforeRetry = 500 * time.Millisecond
	maxDurationBeforeRetry     = 2*time.Minute + 2*time.Second
)

// RegistrationEvent is what every registration attempt and de-registration reports.
type RegistrationEvent struct {
	Event         string   `json:"event"` // "registered", "registration-failed", "deregistered"
	Socket        string   `json:"socket"`
	Type          string   `json:"type,omitempty"`
	Name          string   `json:"name,omitempty"`
	Endpoint      string   `json:"endpoint,omitempty"`
	Versions      []string `json:"versions,omitempty"`
	Service       string   `json:"service,omitempty"`       // chosen DRAPlugin service
	HealthService string   `json:"healthService,omitempty"` // chosen DRAResourceHealth service, if any
	Notified      bool     `json:"notified"`                // NotifyRegistrationStatus reached the plugin
	Error         string   `json:"error,omitempty"`
	Warnings      []string `json:"warnings,omitempty"` // things the kubelet accepts but a driver should not do
	Attempt       int      `json:"attempt,omitempty"`
	ElapsedMs     int64    `json:"elapsedMs"`
}

// pluginInfo is one entry of the kubelet's actual state of world.
type pluginInfo struct {
	socketPath string
	uuid       uint64
	name       string
	endpoint   string
}

type pluginManager struct {
	dir    string
	dra    *draManager
	events chan<- RegistrationEvent

	mu       sync.Mutex
	nextUUID uint64
	desired  map[string]uint64      // socket path -> uuid (watcher)
	actual   map[string]*pluginInfo // socket path -> registered plugin
	inFlight map[string]bool
	backoff  map[string]*backoffState
	attempts map[string]int
}

type backoffState struct {
	lastErrorTime time.Time
	duration      time.Duration
}

func newPluginManager(dir string, dra *draManager, events chan<- RegistrationEvent) *pluginManager {
	return &pluginManager{
		dir: dir, dra: dra, events: events,
		desired: map[string]uint64{}, actual: map[string]*pluginInfo{},
		inFlight: map[string]bool{}, backoff: map[string]*backoffState{}, attempts: map[string]int{},
	}
}

// run starts the watcher and the reconciler; both stop with ctx.
func (pm *pluginManager) run(ctx context.Context) error {
	if err := os.MkdirAll(pm.dir, 0o755); err != nil {
		return fmt.Errorf("error (re-)creating root %s: %v", pm.dir, err)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("failed to start plugin fsWatcher, err: %v", err)
	}
	if err := pm.traverse(w, pm.dir); err != nil {
		logf("failed to traverse plugin socket path %s: %v", pm.dir, err)
	}
	go func() {
		defer w.Close()
		for {
			select {
			case ev := <-w.Events:
				if ev.Has(fsnotify.Create) {
					if err := pm.handleCreate(w, ev.Name); err != nil {
						logf("error when handling create event %s: %v", ev, err)
					}
				} else if ev.Has(fsnotify.Remove) {
					pm.mu.Lock()
					delete(pm.desired, ev.Name)
					pm.mu.Unlock()
				}
			case err := <-w.Errors:
				if err != nil {
					logf("fsWatcher error: %v", err)
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		t := time.NewTicker(reconcilerLoopSleep)
		defer t.Stop()
		for {
			pm.reconcile(ctx)
			select {
			case <-t.C:
			case <-ctx.Done():
				return
			}
		}
	}()
	return nil
}

func (pm *pluginManager) traverse(w *fsnotify.Watcher, dir string) error {
	if err := w.Add(dir); err != nil {
		return fmt.Errorf("failed to watch %s, err: %v", dir, err)
	}
	return filepath.Walk(dir, func(path string, info fs.FileInfo, err error) error {
		if err != nil {
			if path == dir {
				return fmt.Errorf("error accessing path: %s error: %v", path, err)
			}
			return nil
		}
		if path == dir {
			return nil
		}
		if info.IsDir() {
			return w.Add(path)
		}
		if info.Mode()&os.ModeSocket != 0 {
			if err := pm.handleCreate(w, path); err != nil {
				logf("error when handling create %s: %v", path, err)
			}
		}
		return nil
	})
}

func (pm *pluginManager) handleCreate(w *fsnotify.Watcher, path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("stat file %s failed: %v", path, err)
	}
	if strings.HasPrefix(fi.Name(), ".") {
		return nil
	}
	if fi.IsDir() {
		return pm.traverse(w, path)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return nil
	}
	pm.mu.Lock()
	pm.nextUUID++
	pm.desired[path] = pm.nextUUID
	pm.mu.Unlock()
	return nil
}

func (pm *pluginManager) reconcile(ctx context.Context) {
	pm.mu.Lock()
	defer pm.mu.Unlock()
	for sock, p := range pm.actual {
		uuid, ok := pm.desired[sock]
		if ok && uuid == p.uuid {
			continue
		}
		if pm.inFlight[sock] {
			continue
		}
		delete(pm.actual, sock)
		pm.dra.deregister(p.name, p.endpoint)
		pm.events <- RegistrationEvent{Event: "deregistered", Socket: sock, Name: p.name, Endpoint: p.endpoint}
	}
	for sock, uuid := range pm.desired {
		if p, ok := pm.actual[sock]; ok && p.uuid == uuid {
			continue
		}
		if pm.inFlight[sock] {
			continue
		}
		if b := pm.backoff[sock]; b != nil && time.Since(b.lastErrorTime) <= b.duration {
			continue
		}
		pm.inFlight[sock] = true
		pm.attempts[sock]++
		attempt := pm.attempts[sock]
		go func() {
			ev, info := registerPlugin(ctx, sock, pm.dra)
			ev.Attempt = attempt
			pm.mu.Lock()
			delete(pm.inFlight, sock)
			if ev.Event == "registered" {
				info.uuid = uuid
				pm.actual[sock] = info
				delete(pm.backoff, sock)
			} else {
				b := pm.backoff[sock]
				if b == nil {
					b = &backoffState{duration: initialDurationBeforeRetry}
					pm.backoff[sock] = b
				} else {
					b.duration = min(2*b.duration, maxDurationBeforeRetry)
				}
				b.lastErrorTime = time.Now()
			}
			pm.mu.Unlock()
			pm.events <- ev
		}()
	}
}

// dialRegistration is the kubelet's dial(): blocking, insecure, unix, 10 s.
func dialRegistration(ctx context.Context, socketPath string) (registerapi.RegistrationClient, *grpc.ClientConn, error) {
	ctx, cancel := context.WithTimeout(ctx, dialTimeoutDuration)
	defer cancel()
	//nolint:staticcheck // the kubelet still uses DialContext + WithBlock here
	c, err := grpc.DialContext(ctx, socketPath,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithBlock(),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", addr)
		}),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to dial socket %s, err: %v", socketPath, err)
	}
	return registerapi.NewRegistrationClient(c), c, nil
}

func notifyPlugin(ctx context.Context, client registerapi.RegistrationClient, registered bool, errStr string) error {
	ctx, cancel := context.WithTimeout(ctx, notifyTimeoutDuration)
	defer cancel()
	status := &registerapi.RegistrationStatus{PluginRegistered: registered, Error: errStr}
	if _, err := client.NotifyRegistrationStatus(ctx, status); err != nil {
		return fmt.Errorf("%s: %w", errStr, err)
	}
	if errStr != "" {
		return errors.New(errStr)
	}
	return nil
}

// registerPlugin is GenerateRegisterPluginFunc with only the DRAPlugin handler.
func registerPlugin(ctx context.Context, socketPath string, dra *draManager) (RegistrationEvent, *pluginInfo) {
	start := time.Now()
	ev := RegistrationEvent{Event: "registration-failed", Socket: socketPath}
	done := func(err error) (RegistrationEvent, *pluginInfo) {
		ev.ElapsedMs = time.Since(start).Milliseconds()
		if err != nil {
			ev.Error = err.Error()
			return ev, nil
		}
		ev.Event = "registered"
		return ev, &pluginInfo{socketPath: socketPath, name: ev.Name, endpoint: ev.Endpoint}
	}

	client, conn, err := dialRegistration(ctx, socketPath)
	if err != nil {
		return done(fmt.Errorf("RegisterPlugin error -- dial failed at socket %s, err: %v", socketPath, err))
	}
	defer conn.Close()

	infoCtx, cancel := context.WithTimeout(ctx, getInfoTimeout)
	defer cancel()
	info, err := client.GetInfo(infoCtx, &registerapi.InfoRequest{})
	if err != nil {
		return done(fmt.Errorf("RegisterPlugin error -- failed to get plugin info using RPC GetInfo at socket %s, err: %v", socketPath, err))
	}
	ev.Type, ev.Name, ev.Endpoint, ev.Versions = info.Type, info.Name, info.Endpoint, info.SupportedVersions
	// Not checked by the kubelet; reported so that tests can assert on them.
	ev.Warnings = infoWarnings(info)

	notify := func(registered bool, errStr string) error {
		err := notifyPlugin(ctx, client, registered, errStr)
		ev.Notified = err == nil || errStr != "" && err.Error() == errStr
		return err
	}

	if info.Type != registerapi.DRAPlugin {
		msg := fmt.Sprintf("RegisterPlugin error -- no handler registered for plugin type: %s at socket %s", info.Type, socketPath)
		if err := notify(false, msg); err != nil && !ev.Notified {
			return done(fmt.Errorf("RegisterPlugin error -- failed to send error at socket %s, err: %v", socketPath, err))
		}
		return done(errors.New(msg))
	}
	if info.Endpoint == "" {
		ev.Endpoint = socketPath
	}
	if err := dra.validatePlugin(info.Name, ev.Endpoint, info.SupportedVersions); err != nil {
		if err := notify(false, fmt.Sprintf("RegisterPlugin error -- plugin validation failed with err: %v", err)); err != nil && !ev.Notified {
			return done(fmt.Errorf("RegisterPlugin error -- failed to send error at socket %s, err: %v", socketPath, err))
		}
		return done(fmt.Errorf("RegisterPlugin error -- plugin validation failed with err: %v", err))
	}
	p, err := dra.registerPlugin(info.Name, ev.Endpoint, info.SupportedVersions)
	if err != nil {
		return done(notify(false, fmt.Sprintf("RegisterPlugin error -- plugin registration failed with err: %v", err)))
	}
	ev.Service, ev.HealthService = p.chosenService, p.chosenHealthService
	if err := notify(true, ""); err != nil {
		dra.deregister(info.Name, ev.Endpoint)
		return done(fmt.Errorf("RegisterPlugin error -- failed to send registration status at socket %s, err: %v", socketPath, err))
	}
	return done(nil)
}

func infoWarnings(info *registerapi.PluginInfo) []string {
	var w []string
	if info.Name == "" {
		w = append(w, "empty driver name")
	}
	if info.Endpoint != "" {
		if !filepath.IsAbs(info.Endpoint) {
			w = append(w, fmt.Sprintf("endpoint %q is not an absolute path", info.Endpoint))
		} else if fi, err := os.Stat(info.Endpoint); err != nil {
			w = append(w, fmt.Sprintf("endpoint %q: %v", info.Endpoint, err))
		} else if fi.Mode()&os.ModeSocket == 0 {
			w = append(w, fmt.Sprintf("endpoint %q is not a unix socket", info.Endpoint))
		}
	}
	return w
}
