package v1beta1

import (
	"encoding/json"

	"k8s.io/apimachinery/pkg/runtime"
)

// DeepCopyInto copies the spec through JSON: every field is plain data, and this stand-in is
// never on a hot path.
func (in *FRRConfigurationSpec) DeepCopyInto(out *FRRConfigurationSpec) {
	data, err := json.Marshal(in)
	if err != nil {
		panic(err)
	}
	*out = FRRConfigurationSpec{}
	if err := json.Unmarshal(data, out); err != nil {
		panic(err)
	}
}

// DeepCopyInto copies the object.
func (in *FRRConfiguration) DeepCopyInto(out *FRRConfiguration) {
	out.TypeMeta = in.TypeMeta
	in.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	in.Spec.DeepCopyInto(&out.Spec)
	out.Status = in.Status
}

// DeepCopy returns a copy of the object.
func (in *FRRConfiguration) DeepCopy() *FRRConfiguration {
	if in == nil {
		return nil
	}
	out := new(FRRConfiguration)
	in.DeepCopyInto(out)
	return out
}

// DeepCopyObject implements runtime.Object.
func (in *FRRConfiguration) DeepCopyObject() runtime.Object {
	return in.DeepCopy()
}

// DeepCopyObject implements runtime.Object.
func (in *FRRConfigurationList) DeepCopyObject() runtime.Object {
	if in == nil {
		return nil
	}
	out := new(FRRConfigurationList)
	out.TypeMeta = in.TypeMeta
	in.ListMeta.DeepCopyInto(&out.ListMeta)
	out.Items = make([]FRRConfiguration, len(in.Items))
	for i := range in.Items {
		in.Items[i].DeepCopyInto(&out.Items[i])
	}
	return out
}
