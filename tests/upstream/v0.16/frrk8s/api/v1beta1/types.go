// Package v1beta1 declares the FRRConfiguration kind (group frrk8s.metallb.io) with the fields
// upstream MetalLB fills in its frr-k8s mode. Written for metallb-rs as a compile-time stand-in;
// the frr-k8s mode is never used by the project's tests.
package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the API group and version of FRRConfiguration.
var GroupVersion = schema.GroupVersion{Group: "frrk8s.metallb.io", Version: "v1beta1"}

// SchemeBuilder registers the kinds of this package.
var SchemeBuilder = runtime.NewSchemeBuilder(func(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &FRRConfiguration{}, &FRRConfigurationList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
})

// AddToScheme adds the kinds of this package to a scheme.
var AddToScheme = SchemeBuilder.AddToScheme

// FRRConfiguration is one node's BGP configuration for frr-k8s.
type FRRConfiguration struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              FRRConfigurationSpec   `json:"spec,omitempty"`
	Status            FRRConfigurationStatus `json:"status,omitempty"`
}

// FRRConfigurationList is a list of FRRConfiguration.
type FRRConfigurationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []FRRConfiguration `json:"items"`
}

// FRRConfigurationSpec selects the nodes and holds the BGP part.
type FRRConfigurationSpec struct {
	BGP          BGPConfig            `json:"bgp,omitempty"`
	NodeSelector metav1.LabelSelector `json:"nodeSelector,omitempty"`
}

// FRRConfigurationStatus is empty.
type FRRConfigurationStatus struct{}

// BGPConfig holds routers and BFD profiles.
type BGPConfig struct {
	Routers     []Router     `json:"routers"`
	BFDProfiles []BFDProfile `json:"bfdProfiles,omitempty"`
}

// Router is one BGP instance.
type Router struct {
	ASN       uint32     `json:"asn"`
	ID        string     `json:"id,omitempty"`
	VRF       string     `json:"vrf,omitempty"`
	Neighbors []Neighbor `json:"neighbors,omitempty"`
	Prefixes  []string   `json:"prefixes,omitempty"`
}

// DynamicASNMode is "internal" or "external".
type DynamicASNMode string

// SecretReference names a Secret.
type SecretReference struct {
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
}

// Neighbor is one BGP session.
type Neighbor struct {
	ASN                    uint32           `json:"asn,omitempty"`
	DynamicASN             DynamicASNMode   `json:"dynamicASN,omitempty"`
	Address                string           `json:"address,omitempty"`
	Interface              string           `json:"interface,omitempty"`
	Port                   *uint16          `json:"port,omitempty"`
	Password               string           `json:"password,omitempty"`
	PasswordSecret         SecretReference  `json:"passwordSecret,omitempty"`
	HoldTime               *metav1.Duration `json:"holdTime,omitempty"`
	KeepaliveTime          *metav1.Duration `json:"keepaliveTime,omitempty"`
	ConnectTime            *metav1.Duration `json:"connectTime,omitempty"`
	EBGPMultiHop           bool             `json:"ebgpMultiHop,omitempty"`
	BFDProfile             string           `json:"bfdProfile,omitempty"`
	EnableGracefulRestart  bool             `json:"enableGracefulRestart,omitempty"`
	ToAdvertise            Advertise        `json:"toAdvertise,omitempty"`
	DisableMP              bool             `json:"disableMP,omitempty"`
	DualStackAddressFamily bool             `json:"dualStackAddressFamily,omitempty"`
}

// Advertise lists what a session announces, and with which attributes.
type Advertise struct {
	Allowed                   AllowedOutPrefixes      `json:"allowed,omitempty"`
	PrefixesWithLocalPref     []LocalPrefPrefixes     `json:"withLocalPref,omitempty"`
	PrefixesWithCommunity     []CommunityPrefixes     `json:"withCommunity,omitempty"`
	PrefixesWithAsPathPrepend []AsPathPrependPrefixes `json:"withAsPathPrepend,omitempty"`
}

// AllowedOutPrefixes are the prefixes a session may announce.
type AllowedOutPrefixes struct {
	Prefixes []string `json:"prefixes,omitempty"`
}

// LocalPrefPrefixes are prefixes announced with a LOCAL_PREF.
type LocalPrefPrefixes struct {
	Prefixes  []string `json:"prefixes,omitempty"`
	LocalPref uint32   `json:"localPref,omitempty"`
}

// CommunityPrefixes are prefixes announced with a community.
type CommunityPrefixes struct {
	Prefixes  []string `json:"prefixes,omitempty"`
	Community string   `json:"community,omitempty"`
}

// AsPathPrependPrefixes are prefixes announced with the local AS prepended this many times.
type AsPathPrependPrefixes struct {
	Prefixes      []string `json:"prefixes,omitempty"`
	AsPathPrepend uint8    `json:"asPathPrepend,omitempty"`
}

// BFDProfile holds BFD timers.
type BFDProfile struct {
	Name             string  `json:"name"`
	ReceiveInterval  *uint32 `json:"receiveInterval,omitempty"`
	TransmitInterval *uint32 `json:"transmitInterval,omitempty"`
	DetectMultiplier *uint32 `json:"detectMultiplier,omitempty"`
	EchoInterval     *uint32 `json:"echoInterval,omitempty"`
	EchoMode         *bool   `json:"echoMode,omitempty"`
	PassiveMode      *bool   `json:"passiveMode,omitempty"`
	MinimumTTL       *uint32 `json:"minimumTtl,omitempty"`
}
