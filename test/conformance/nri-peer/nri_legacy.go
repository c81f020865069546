//go:build nri_legacy

package main

// nri v0.8.0 (containerd 2.0.x, 2.1.x): pod events reach plugins only as
// Plugin.StateChange(StateChangeEvent{event, pod}).

import (
	"context"
	"errors"

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

// validatorOptions: nri v0.8.0 has no validation (containerd 2.0/2.1 cannot
// require a plugin).
func startContainer(ctx context.Context, r *adaptation.Adaptation, pod *api.PodSandbox, ctr *api.Container) error {
	return r.StartContainer(ctx, &adaptation.StateChangeEvent{Pod: pod, Container: ctr})
}

func validatorOptions(required []string, tolerate string) ([]adaptation.Option, error) {
	if len(required) == 0 && tolerate == "" {
		return nil, nil
	}
	return nil, errors.New("nri v0.8.0 has no default validator: --required-plugins needs the current runtime")
}
