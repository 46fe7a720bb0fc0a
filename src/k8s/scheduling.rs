//! Scheduling facts the options depend on: whether a PriorityClass exists (pods naming a
//! missing one are refused by the API server's admission, so the charm checks first).

use k8s_openapi::api::scheduling::v1::PriorityClass;
use kube::Api;

use super::{Cluster, K8sError, classify};

impl Cluster {
    /// Whether PriorityClass `name` exists.
    pub fn priority_class_exists(&self, name: &str) -> Result<bool, K8sError> {
        self.block_on(async {
            let classes: Api<PriorityClass> = Api::all(self.client.clone());
            classes
                .get_opt(name)
                .await
                .map(|class| class.is_some())
                .map_err(|e| classify(&format!("reading PriorityClass {name}"), e))
        })
    }
}
