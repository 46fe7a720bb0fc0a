//! The one way to build a scenario, in four steps: the network, the control plane, the nodes,
//! the workloads. The speaker tests and benchmarks take the whole default (simulated nodes and a
//! speaker process per node, [`Scenario::start`]); the lab asks for real nodes and runs the
//! workloads as pods through the charm.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, PostParams};
use netlab::{Host, Network, serve_http};

use super::cluster::NetCluster;
use super::nodes::{NodeImage, RealNodes};
use super::running::Scenario;
use super::speakers::Speakers;

/// The MetalLB namespace of every scenario (the charm's default).
pub const NAMESPACE: &str = "metallb-system";

/// A step of [`ScenarioBuilder::start`], reported to [`ScenarioBuilder::on_step`] once done.
pub enum Step<'s> {
    /// The network's namespaces are up.
    Network(&'s Network),
    /// The control plane answers (the nodes are not started yet).
    ControlPlane(&'s NetCluster),
    /// The nodes are registered: Ready real nodes, or Node objects for simulated ones.
    Nodes(Option<&'s RealNodes>),
    /// The HTTP servers and the speaker processes run.
    Workloads,
}

/// Real nodes for a scenario.
struct RealNodesSpec {
    images: Vec<NodeImage>,
    root: Option<PathBuf>,
    ready: Duration,
}

/// The body each node's HTTP server answers with.
type HttpBody<'a> = Box<dyn Fn(&Host) -> String + 'a>;

/// What a step reports to.
type OnStep<'a> = Box<dyn FnMut(Step<'_>) -> Result<()> + 'a>;

/// Builds a [`Scenario`]: network → control plane → nodes → workloads.
pub struct ScenarioBuilder<'a> {
    prefix: String,
    nodes: Vec<String>,
    metallb_crds: bool,
    real: Option<RealNodesSpec>,
    http: Option<HttpBody<'a>>,
    speakers: Option<(PathBuf, Vec<String>)>,
    on_step: Option<OnStep<'a>>,
}

impl Scenario {
    /// A builder for a scenario on a network of namespaces `<prefix>-*` with the nodes `nodes`:
    /// by default simulated nodes (Node objects only) and no workloads.
    pub fn builder<'a>(prefix: &str, nodes: &[&str]) -> ScenarioBuilder<'a> {
        ScenarioBuilder {
            prefix: prefix.to_string(),
            nodes: nodes.iter().map(|n| n.to_string()).collect(),
            metallb_crds: false,
            real: None,
            http: None,
            speakers: None,
            on_step: None,
        }
    }

    /// The speaker scenario: the metallb.io CRDs and the MetalLB namespace, Node objects for the
    /// node namespaces, an HTTP server answering with the node's name on port 80 of every node,
    /// and a speaker process (`speaker`, with `extra` flags) per node.
    pub async fn start(
        prefix: &str,
        nodes: &[&str],
        speaker: &Path,
        extra: &[&str],
    ) -> Result<Self> {
        Self::builder(prefix, nodes)
            .metallb_crds()
            .http(|node| node.name.clone())
            .speakers(speaker, extra)
            .start()
            .await
    }
}

impl<'a> ScenarioBuilder<'a> {
    /// Installs the metallb.io CRDs and creates the MetalLB namespace ([`NAMESPACE`]), as the
    /// charm would (for scenarios without it).
    pub fn metallb_crds(mut self) -> Self {
        self.metallb_crds = true;
        self
    }

    /// Real nodes (containerd, kubelet, kube-proxy) with `images` imported, their state in
    /// `root` (kept for cleaning after a crash) or a temporary directory, Ready within `ready`.
    pub fn real_nodes(
        mut self,
        images: Vec<NodeImage>,
        root: Option<&Path>,
        ready: Duration,
    ) -> Self {
        self.real = Some(RealNodesSpec {
            images,
            root: root.map(Path::to_path_buf),
            ready,
        });
        self
    }

    /// An HTTP server on port 80 of every node answering with `body(node)`.
    pub fn http(mut self, body: impl Fn(&Host) -> String + 'a) -> Self {
        self.http = Some(Box::new(body));
        self
    }

    /// A speaker process (`binary` with `flags`) per node.
    pub fn speakers(mut self, binary: &Path, flags: &[&str]) -> Self {
        let flags = flags.iter().map(|f| f.to_string()).collect();
        self.speakers = Some((binary.to_path_buf(), flags));
        self
    }

    /// Calls `report` after each step (to show progress, or to record what a crash would
    /// leave); an error from it stops the start.
    pub fn on_step(mut self, report: impl FnMut(Step<'_>) -> Result<()> + 'a) -> Self {
        self.on_step = Some(Box::new(report));
        self
    }

    fn report(&mut self, step: Step<'_>) -> Result<()> {
        match self.on_step.as_mut() {
            Some(report) => report(step),
            None => Ok(()),
        }
    }

    /// Runs the steps; whatever started is removed again when one fails.
    pub async fn start(mut self) -> Result<Scenario> {
        let names: Vec<&str> = self.nodes.iter().map(String::as_str).collect();
        let network = Network::create(&self.prefix, &names)?;
        self.report(Step::Network(&network))?;

        let cluster = NetCluster::start(&network)?;
        let client = cluster.client().await?;
        if self.metallb_crds {
            crate::install_crds(&client, metallb_crds()?).await?;
            let object = Namespace {
                metadata: kube::api::ObjectMeta {
                    name: Some(NAMESPACE.to_string()),
                    ..Default::default()
                },
                ..Default::default()
            };
            Api::<Namespace>::all(client.clone())
                .create(&PostParams::default(), &object)
                .await
                .context("cannot create the MetalLB namespace")?;
        }
        self.report(Step::ControlPlane(&cluster))?;

        let nodes = match self.real.take() {
            Some(spec) => {
                let nodes = match &spec.root {
                    Some(root) => RealNodes::start_in(root, &network, &cluster, &spec.images)?,
                    None => RealNodes::start(&network, &cluster, &spec.images)?,
                };
                nodes.wait_ready(&client, spec.ready).await?;
                Some(nodes)
            }
            None => {
                let addresses: Vec<(String, String)> = network
                    .nodes
                    .iter()
                    .map(|n| (n.name.clone(), n.ipv4.to_string()))
                    .collect();
                let refs: Vec<(&str, &str)> = addresses
                    .iter()
                    .map(|(a, b)| (a.as_str(), b.as_str()))
                    .collect();
                crate::create_nodes(&client, &refs, &[]).await?;
                None
            }
        };
        self.report(Step::Nodes(nodes.as_ref()))?;

        let http = match &self.http {
            Some(body) => network
                .nodes
                .iter()
                .map(|node| serve_http(&node.netns, 80, &body(node)))
                .collect::<Result<Vec<_>>>()?,
            None => Vec::new(),
        };
        let kubeconfig = cluster.cluster.kubeconfig();
        let speakers = match &self.speakers {
            Some((binary, flags)) => {
                let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
                let mut speakers = Speakers::new(binary, kubeconfig, NAMESPACE, &flags)?;
                for node in &network.nodes {
                    speakers.start(&network, &node.name)?;
                }
                speakers
            }
            None => Speakers::none(kubeconfig, NAMESPACE)?,
        };
        self.report(Step::Workloads)?;
        Ok(Scenario {
            _http: http,
            speakers,
            nodes,
            network,
            cluster,
            client,
            namespace: NAMESPACE.to_string(),
        })
    }
}

/// The metallb.io CRDs, read from the committed YAML (test-support does not depend on the API
/// crate, whose tests depend on test-support).
fn metallb_crds() -> Result<Vec<CustomResourceDefinition>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../workload/api/crds/metallb.io.yaml"
    );
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?;
    text.split("\n---")
        .filter(|doc| doc.contains("kind: CustomResourceDefinition"))
        .map(|doc| serde_yaml::from_str(doc).context("cannot parse a CRD"))
        .collect()
}
