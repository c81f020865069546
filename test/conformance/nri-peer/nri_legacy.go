//go:build nri_legacy

package main

// nri v0.8.0 (containerd 2.0.x, 2.1.x): pod events reach plugins only as
// Plugin.StateChange(StateChangeEvent{event, pod}).

import (
	"context"

	"github.com/containerd/nri/pkg/adaptation"
	"github.com/containerd/nri/pkg/api"
)

const (
	nriModuleVersion      = "v0.8.0"
	defaultRuntimeVersion = "v2.1.9"
	podEventDelivery      = "state-change"
)

func runPodSandbox(ctx context.Context, r *adaptation.Adaptation, pod *api.PodSandbox) error {
	return r.RunPodSandbox(ctx, &adaptation.StateChangeEvent{Pod: pod})
}

func stopPodSandbox(ctx context.Context, r *adaptation.Adaptation, pod *api.PodSandbox) error {
	return r.StopPodSandbox(ctx, &adaptation.StateChangeEvent{Pod: pod})
}

func removePodSandbox(ctx context.Context, r *adaptation.Adaptation, pod *api.PodSandbox) error {
	return r.RemovePodSandbox(ctx, &adaptation.StateChangeEvent{Pod: pod})
}
