//go:build !nri_legacy

package main

// nri v0.12 (containerd 2.3/2.4): pod events are dedicated RPCs; the
// adaptation falls back to StateChange for a plugin that answers UNIMPLEMENTED.

import (
	"context"

	"github.com/containerd/nri/pkg/adaptation"
	"github.com/containerd/nri/pkg/api"
	validator "github.com/containerd/nri/plugins/default-validator/builtin"
)

const (
	nriModuleVersion      = "v0.12.3"
	defaultRuntimeVersion = "v2.4.2"
	podEventDelivery      = "dedicated-rpc"
)

func runPodSandbox(ctx context.Context, r *adaptation.Adaptation, pod *api.PodSandbox) error {
	return r.RunPodSandbox(ctx, &adaptation.RunPodSandboxRequest{Pod: pod})
}

func stopPodSandbox(ctx context.Context, r *adaptation.Adaptation, pod *api.PodSandbox) error {
	return r.StopPodSandbox(ctx, &adaptation.StopPodSandboxRequest{Pod: pod})
}

func removePodSandbox(ctx context.Context, r *adaptation.Adaptation, pod *api.PodSandbox) error {
	return r.RemovePodSandbox(ctx, &adaptation.RemovePodSandboxRequest{Pod: pod})
}

// validatorOptions enables the built-in default validator, as containerd's
// [plugins."io.containerd.nri.v1.nri".default_validator] does (containerd
// 2.2+): container creation fails while a required plugin is not connected.
func startContainer(ctx context.Context, r *adaptation.Adaptation, pod *api.PodSandbox, ctr *api.Container) error {
	return r.StartContainer(ctx, &adaptation.StartContainerRequest{Pod: pod, Container: ctr})
}

func validatorOptions(required []string, tolerate string) ([]adaptation.Option, error) {
	if len(required) == 0 && tolerate == "" {
		return nil, nil
	}
	return []adaptation.Option{adaptation.WithDefaultValidator(&validator.DefaultValidatorConfig{
		Enable: true, RequiredPlugins: required, TolerateMissingAnnotation: tolerate,
	})}, nil
}
