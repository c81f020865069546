//go:build tools

// Package tools pins the Helm CLI that test/deploy/build-helm.sh builds; it
// is never compiled on its own.
package tools

import _ "helm.sh/helm/v4/cmd/helm"
