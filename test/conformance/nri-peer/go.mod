// nri-peer: the runtime side of NRI as containerd 2.4 embeds it
// (containerd v2.4.x go.mod: nri v0.12.3, ttrpc v1.2.9).
// The legacy build (containerd 2.0/2.1: nri v0.8.0, ttrpc v1.2.7) uses go.legacy.mod.
module netclaim.local/nri-peer

go 1.26.0

require (
	github.com/containerd/nri v0.12.3
	google.golang.org/protobuf v1.36.12
)

require (
	github.com/containerd/log v0.1.0 // indirect
	github.com/containerd/ttrpc v1.2.9 // indirect
	github.com/knqyf263/go-plugin v0.9.0 // indirect
	github.com/opencontainers/runtime-spec v1.3.0 // indirect
	github.com/sirupsen/logrus v1.9.4 // indirect
	github.com/tetratelabs/wazero v1.11.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/mod v0.32.0 // indirect
	golang.org/x/sys v0.46.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20260226221140-a57be14db171 // indirect
	google.golang.org/grpc v1.81.1 // indirect
)
