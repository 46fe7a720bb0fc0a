// A stand-in for github.com/metallb/frr-k8s, written for this project: upstream MetalLB v0.16.2
// requires frr-k8s v0.0.27, which the Go module proxy does not serve. It declares only the API
// types MetalLB's frr-k8s mode refers to (a mode our tests never use), so that MetalLB's
// controller and speaker compile. Nothing here talks to an frr-k8s installation.
module github.com/metallb/frr-k8s

go 1.26.0

require k8s.io/apimachinery v0.37.1
