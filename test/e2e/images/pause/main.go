// Command pause is the sandbox ("infra") container of the node end-to-end
// tier's pods, built into the image registry.k8s.io/pause:<tag> by
// test/e2e/images/build-images.sh. It holds the pod's namespaces open and
// does nothing else:
//
//   - SIGINT or SIGTERM: exit 0 (the runtime stops the sandbox this way);
//   - SIGCHLD: reap every exited child, so that as PID 1 of a pod with a
//     shared PID namespace it leaves no zombies behind;
//   - -v: print the version and exit.
//
// It uses only the standard library and is built static (CGO_ENABLED=0).
package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const version = "netclaim-e2e-pause 1"

func main() {
	if len(os.Args) > 1 {
		if os.Args[1] == "-v" {
			fmt.Println(version)
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "usage: %s [-v]\n", os.Args[0])
		os.Exit(2)
	}
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "pause: warning: not running as PID 1")
	}

	signals := make(chan os.Signal, 16)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	// A child may have exited before Notify was in place.
	reap()
	for sig := range signals {
		switch sig {
		case syscall.SIGINT, syscall.SIGTERM:
			fmt.Fprintf(os.Stderr, "pause: %v, exiting\n", sig)
			os.Exit(0)
		case syscall.SIGCHLD:
			reap()
		}
	}
}

// reap collects every child that has exited, without blocking. Signals are
// coalesced, so one SIGCHLD may stand for several exits: loop until none is left.
func reap() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil || pid <= 0 {
			return // ECHILD: no children; 0: none exited yet
		}
	}
}
