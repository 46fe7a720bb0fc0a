//! The allocation rules against the real API server: requested addresses (annotation with
//! either prefix, `spec.loadBalancerIP`), `address-pool`, `autoAssign: false`, `avoidBuggyIPs`,
//! sharing with `allow-shared-ip`, dual stack (PreferDualStack gaining a family), and
//! `serviceAllocation` priority, namespaces, namespace selectors and service selectors.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Result;
use k8s_openapi::api::core::v1::{Namespace, Service};
use kube::api::{Api, Patch, PatchParams, PostParams};
use metallb_api::IPAddressPool;
use serde_json::{Value, json};
use test_support::{TestNamespace, cluster, wait_for};

const WAIT: Duration = Duration::from_secs(30);

/// The controller process for one test, killed on drop.
struct Controller(Child);

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(namespace: &str, class: &str) -> Controller {
    let child = test_support::spawn_tied(
        Command::new(env!("CARGO_BIN_EXE_metallb-controller"))
            .arg("--kubeconfig")
            .arg(cluster().kubeconfig())
            .args(["--namespace", namespace, "--lb-class", class])
            .args([
                "--health-probe-port",
                "0",
                "--port",
                "0",
                "--ml-secret-name",
                "",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
    .unwrap();
    Controller(child)
}

async fn pool(api: &Api<IPAddressPool>, name: &str, spec: Value) -> Result<()> {
    let pool: IPAddressPool = serde_json::from_value(json!({
        "apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
        "metadata": {"name": name}, "spec": spec,
    }))?;
    api.patch(
        name,
        &PatchParams::apply("rules-test").force(),
        &Patch::Apply(&pool),
    )
    .await?;
    Ok(())
}

struct Apps {
    api: Api<Service>,
    class: String,
}

impl Apps {
    async fn service(&self, name: &str, annotations: Value, spec: Value) -> Result<()> {
        let mut full = json!({
            "type": "LoadBalancer", "loadBalancerClass": self.class,
            "allocateLoadBalancerNodePorts": false,
            "ports": [{"port": 80, "protocol": "TCP"}],
        });
        if let (Some(target), Value::Object(extra)) = (full.as_object_mut(), spec) {
            target.extend(extra);
        }
        let svc: Service = serde_json::from_value(json!({
            "metadata": {"name": name, "annotations": annotations}, "spec": full,
        }))?;
        self.api.create(&PostParams::default(), &svc).await?;
        Ok(())
    }

    async fn ips(&self, name: &str) -> Result<Vec<String>> {
        let svc = self.api.get(name).await?;
        Ok(metallb_controller::convert::current_ips(&svc)
            .iter()
            .map(ToString::to_string)
            .collect())
    }

    async fn wait(&self, name: &str, expected: &[&str]) -> Result<()> {
        wait_for(&format!("{name} to have {expected:?}"), WAIT, || async {
            Ok((self.ips(name).await? == expected).then_some(()))
        })
        .await
    }

    /// Waits for the controller to have seen `name` (an event about it), then checks it still
    /// has no address.
    async fn wait_refused(&self, name: &str) -> Result<()> {
        let events: Api<k8s_openapi::api::events::v1::Event> =
            Api::namespaced(self.api.clone().into_client(), &self.namespace());
        wait_for(
            &format!("an AllocationFailed event for {name}"),
            WAIT,
            || async {
                let list = events.list(&Default::default()).await?;
                Ok(list
                    .items
                    .iter()
                    .any(|e| {
                        e.reason.as_deref() == Some("AllocationFailed")
                            && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)
                    })
                    .then_some(()))
            },
        )
        .await?;
        assert!(self.ips(name).await?.is_empty(), "{name} got an address");
        Ok(())
    }

    fn namespace(&self) -> String {
        self.api.namespace().unwrap_or_default().to_string()
    }
}

#[tokio::test]
#[ignore = "needs the control plane: cargo xtask test"]
async fn allocation_rules_hold_against_the_api_server() -> Result<()> {
    let cluster = cluster();
    let client = cluster.client().await?;
    test_support::install_crds(&client, metallb_api::crds()).await?;
    let metallb = TestNamespace::create(cluster, "metallb").await?;
    let apps_ns = TestNamespace::create(cluster, "apps").await?;
    let pools: Api<IPAddressPool> = Api::namespaced(client.clone(), &metallb.name);
    let apps = Apps {
        api: Api::namespaced(client.clone(), &apps_ns.name),
        class: format!("metallb.test/{}", apps_ns.name),
    };
    // "buggy" avoids .0 and .255; "manual" is never auto-assigned; "dual" has both families.
    pool(
        &pools,
        "buggy",
        json!({"addresses": ["198.18.220.255-198.18.221.1"], "avoidBuggyIPs": true}),
    )
    .await?;
    pool(
        &pools,
        "manual",
        json!({"addresses": ["198.18.222.0/30"], "autoAssign": false}),
    )
    .await?;
    pool(
        &pools,
        "dual",
        json!({"addresses": ["198.18.223.0/30", "2001:db8:223::/126"]}),
    )
    .await?;
    let _controller = start(&metallb.name, &apps.class);

    // avoidBuggyIPs: .255 and .0 are skipped; the first pool by name serves unrestricted requests.
    apps.service("first", json!({}), json!({})).await?;
    apps.wait("first", &["198.18.221.1"]).await?;

    // address-pool picks the pool, including one without autoAssign.
    apps.service(
        "manual",
        json!({"metallb.universe.tf/address-pool": "manual"}),
        json!({}),
    )
    .await?;
    apps.wait("manual", &["198.18.222.0"]).await?;

    // Requested addresses: the current annotation, and spec.loadBalancerIP.
    apps.service(
        "wanted",
        json!({"metallb.io/loadBalancerIPs": "198.18.222.3"}),
        json!({}),
    )
    .await?;
    apps.wait("wanted", &["198.18.222.3"]).await?;
    apps.service(
        "legacy",
        json!({}),
        json!({"loadBalancerIP": "198.18.223.2"}),
    )
    .await?;
    apps.wait("legacy", &["198.18.223.2"]).await?;
    // An address outside every pool is refused.
    apps.service(
        "outside",
        json!({"metallb.io/loadBalancerIPs": "198.18.230.1"}),
        json!({}),
    )
    .await?;
    apps.wait_refused("outside").await?;

    // Sharing: same key, different ports share; a port clash does not.
    let share =
        json!({"metallb.io/allow-shared-ip": "k", "metallb.io/loadBalancerIPs": "198.18.222.1"});
    apps.service("share-a", share.clone(), json!({})).await?;
    apps.wait("share-a", &["198.18.222.1"]).await?;
    apps.service(
        "share-b",
        share.clone(),
        json!({"ports": [{"port": 443, "protocol": "TCP"}]}),
    )
    .await?;
    apps.wait("share-b", &["198.18.222.1"]).await?;
    apps.service("share-clash", share, json!({})).await?;
    apps.wait_refused("share-clash").await?;

    // RequireDualStack gets one address of each family from one pool.
    apps.service(
        "dual",
        json!({"metallb.io/address-pool": "dual"}),
        json!({"ipFamilyPolicy": "RequireDualStack", "ipFamilies": ["IPv4", "IPv6"]}),
    )
    .await?;
    wait_for("dual to have both families", WAIT, || async {
        let ips = apps.ips("dual").await?;
        Ok((ips.len() == 2
            && ips[0].starts_with("198.18.223.")
            && ips[1].starts_with("2001:db8:223::"))
        .then_some(()))
    })
    .await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs the control plane: cargo xtask test"]
async fn service_allocation_prefers_the_highest_priority_pool_for_its_namespaces() -> Result<()> {
    let cluster = cluster();
    let client = cluster.client().await?;
    test_support::install_crds(&client, metallb_api::crds()).await?;
    let metallb = TestNamespace::create(cluster, "metallb").await?;
    let apps_ns = TestNamespace::create(cluster, "apps").await?;
    let other_ns = TestNamespace::create(cluster, "other").await?;
    let pools: Api<IPAddressPool> = Api::namespaced(client.clone(), &metallb.name);
    let class = format!("metallb.test/{}", apps_ns.name);
    pool(
        &pools,
        "a-general",
        json!({"addresses": ["198.18.224.0/30"]}),
    )
    .await?;
    pool(
        &pools,
        "z-reserved",
        json!({"addresses": ["198.18.225.0/30"], "serviceAllocation": {"priority": 10, "namespaces": [apps_ns.name]}}),
    )
    .await?;
    let _controller = start(&metallb.name, &class);
    let apps = Apps {
        api: Api::namespaced(client.clone(), &apps_ns.name),
        class: class.clone(),
    };
    let other = Apps {
        api: Api::namespaced(client.clone(), &other_ns.name),
        class,
    };
    // The reserved pool serves its namespace first, although it sorts last by name.
    apps.service("mine", json!({}), json!({})).await?;
    apps.wait("mine", &["198.18.225.0"]).await?;
    // Other namespaces cannot use it.
    other.service("theirs", json!({}), json!({})).await?;
    other.wait("theirs", &["198.18.224.0"]).await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs the control plane: cargo xtask test"]
async fn namespace_and_service_selectors_and_prefer_dual_stack_hold_against_the_api_server()
-> Result<()> {
    let cluster = cluster();
    let client = cluster.client().await?;
    test_support::install_crds(&client, metallb_api::crds()).await?;
    let metallb = TestNamespace::create(cluster, "metallb").await?;
    let blue_ns = TestNamespace::create(cluster, "blue").await?;
    let plain_ns = TestNamespace::create(cluster, "plain").await?;
    Api::<Namespace>::all(client.clone())
        .patch(
            &blue_ns.name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"team": "blue"}}})),
        )
        .await?;
    let pools: Api<IPAddressPool> = Api::namespaced(client.clone(), &metallb.name);
    let class = format!("metallb.test/{}", plain_ns.name);
    pool(
        &pools,
        "a-general",
        json!({"addresses": ["198.18.228.0/30"]}),
    )
    .await?;
    pool(
        &pools,
        "z-blue",
        json!({"addresses": ["198.18.229.0/30"], "serviceAllocation": {"priority": 1,
            "namespaceSelectors": [{"matchLabels": {"team": "blue"}}]}}),
    )
    .await?;
    pool(
        &pools,
        "z-web",
        json!({"addresses": ["198.18.231.0/30"], "serviceAllocation": {"priority": 1,
            "serviceSelectors": [{"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web"]}]}]}}),
    )
    .await?;
    pool(
        &pools,
        "growing",
        json!({"addresses": ["198.18.232.0/30"], "autoAssign": false}),
    )
    .await?;
    let _controller = start(&metallb.name, &class);
    let blue = Apps {
        api: Api::namespaced(client.clone(), &blue_ns.name),
        class: class.clone(),
    };
    let plain = Apps {
        api: Api::namespaced(client.clone(), &plain_ns.name),
        class: class.clone(),
    };

    // namespaceSelectors: the labelled namespace gets its pool; others fall back to the general one.
    blue.service("b", json!({}), json!({})).await?;
    blue.wait("b", &["198.18.229.0"]).await?;
    plain.service("p", json!({}), json!({})).await?;
    plain.wait("p", &["198.18.228.0"]).await?;

    // serviceSelectors: only a Service with matching labels gets the web pool.
    let web: Service = serde_json::from_value(json!({
        "metadata": {"name": "web", "labels": {"tier": "web"}},
        "spec": {"type": "LoadBalancer", "loadBalancerClass": class,
            "allocateLoadBalancerNodePorts": false, "ports": [{"port": 80, "protocol": "TCP"}]},
    }))?;
    plain.api.create(&PostParams::default(), &web).await?;
    plain.wait("web", &["198.18.231.0"]).await?;

    // PreferDualStack from an IPv4-only pool gets one address; when the pool gains IPv6, the
    // Service gets the second family from the same pool and keeps its first address.
    plain
        .service(
            "prefer",
            json!({"metallb.io/address-pool": "growing"}),
            json!({"ipFamilyPolicy": "PreferDualStack", "ipFamilies": ["IPv4", "IPv6"]}),
        )
        .await?;
    plain.wait("prefer", &["198.18.232.0"]).await?;
    pool(
        &pools,
        "growing",
        json!({"addresses": ["198.18.232.0/30", "2001:db8:232::/126"], "autoAssign": false}),
    )
    .await?;
    plain
        .wait("prefer", &["198.18.232.0", "2001:db8:232::"])
        .await?;
    Ok(())
}
