// Command kubelet-peer plays the kubelet's part against a DRA driver, for
// conformance tests: plugin registration (the kubelet's plugin watcher and
// reconciler), the DRA gRPC client (v1 / v1beta1 service choice) and the
// optional DRAResourceHealth stream. Everything it reports is JSON, one
// object per line on stdout; diagnostics go to stderr.
//
// The protocol code follows the kubelet of Kubernetes 1.37.2:
//   - pkg/kubelet/pluginmanager/pluginwatcher (fsnotify on the registry dir,
//     sockets only, names starting with "." ignored, sub-directories watched),
//   - pkg/kubelet/pluginmanager/reconciler (1 s loop, de-register on removal or
//     re-creation, retry with 500 ms..2m2s exponential back-off per socket),
//   - pkg/kubelet/pluginmanager/operationexecutor (blocking insecure dial 10 s,
//     GetInfo 1 s, NotifyRegistrationStatus 5 s, endpoint defaults to the
//     registration socket),
//   - pkg/kubelet/cm/dra/plugin (first of the plugin's supported_versions that
//     the kubelet knows wins: v1.DRAPlugin, v1beta1.DRAPlugin; health service
//     v1.DRAResourceHealth before v1alpha1.DRAResourceHealth; grpc.NewClient
//     on "unix:<endpoint>"; 45 s call timeout; one endpoint per driver instance).
//
// Usage: kubelet-peer <serve|register|get-info|prepare|unprepare|watch-health> [flags]
// See test/conformance/peers/README.md.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"
)

var outMu sync.Mutex

// emit writes one JSON object as one line on stdout.
func emit(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"event": "internal-error", "error": err.Error()})
	}
	outMu.Lock()
	defer outMu.Unlock()
	os.Stdout.Write(append(b, '\n'))
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "kubelet-peer: "+format+"\n", args...)
}

const usage = `usage: kubelet-peer <command> [flags]

commands:
  serve         long-running: watch --registry like the kubelet, read JSON commands
                on stdin, answer JSON lines on stdout (events too)
  register      watch --registry until the first registration attempt, print it
  get-info      call GetInfo on --socket (no NotifyRegistrationStatus)
  prepare       NodePrepareResources on --endpoint with --service, --claims JSON
  unprepare     NodeUnprepareResources likewise
  watch-health  stream NodeWatchResources from --endpoint for --duration

run "kubelet-peer <command> -h" for the flags of one command.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	args := os.Args[2:]
	var code int
	switch os.Args[1] {
	case "serve":
		code = cmdServe(args)
	case "register":
		code = cmdRegister(args)
	case "get-info":
		code = cmdGetInfo(args)
	case "prepare":
		code = cmdPrepare(args, false)
	case "unprepare":
		code = cmdPrepare(args, true)
	case "watch-health":
		code = cmdWatchHealth(args)
	case "-h", "--help", "help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "kubelet-peer: unknown command %q\n%s", os.Args[1], usage)
		code = 2
	}
	os.Exit(code)
}
