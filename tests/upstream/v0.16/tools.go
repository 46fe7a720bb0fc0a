//go:build tools

// Package upstream pins upstream MetalLB's controller and speaker as build targets: this module
// exists only so that `go build go.universe.tf/metallb/controller go.universe.tf/metallb/speaker`
// has a go.mod to resolve them (`cargo xtask upstream build`). Test tooling, never shipped.
package upstream

import (
	_ "go.universe.tf/metallb/controller"
	_ "go.universe.tf/metallb/speaker"
)
