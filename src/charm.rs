//! The metallb charm: one reconcile path for every event, status decided in `collect_status`.
//!
//! Only the leader manages MetalLB; other units say they are standby. A bad option blocks the
//! charm and changes nothing in the cluster. Without trust the API answers 403 and the charm
//! blocks with the command to run; other API errors are reported as waiting and retried on
//! the next hook.
//!
//! A reconcile reads each kind once, and applies only the objects that differ from what it
//! read (`k8s/compare.rs`). update-status, after a hook that left the application active,
//! only reads what the status reports ([`observe`]) and reconciles when that shows something
//! missing, changed or not ready. Every hook logs its Kubernetes API requests at DEBUG.

use std::rc::Rc;
use std::time::Duration;

use anyhow::Result;
use juju_ops::{Context, Status};
use serde_json::json;

use crate::config::{CharmConfig, ConfigProblem, RawConfig};
use crate::identity::Instance;
use crate::identity::LABEL_INSTANCE;
use crate::images;
use crate::k8s::{
    ApiRequests, BgpAdvertising, Cluster, FIELD_MANAGER, Freshness, K8sError, KubeSource,
    Readiness, Report, Snapshot,
};
use crate::migration;
use crate::ownership::{self, Adopt, Conflict, Plan};
use crate::preflight;
use crate::render::{
    Desired, EXCLUDE_CONFIG_MAP, MANAGED_KINDS, MEMBERLIST_SECRET, RenderInput, exclude_list,
    render,
};

/// What the last reconcile found, for collect-status.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Not the leader.
    Standby,
    /// An option is invalid; nothing was changed.
    BadConfig(ConfigProblem),
    /// The API refused access: the application needs trust.
    NeedsTrust(String),
    /// The API refused a request as invalid (not a matter of rights): retrying will not help.
    Refused(String),
    /// Objects the charm wants exist and are someone else's; nothing was changed.
    Conflicts(Vec<Conflict>),
    /// The API failed in a way worth retrying.
    ApiError(String),
    /// Everything was applied; the workload's readiness.
    Applied {
        /// Ready counts.
        readiness: Readiness,
        /// A condition of the cluster that stops announcements from working, with its fix
        /// (the objects stay applied: nothing in force is taken away).
        blocker: Option<String>,
        /// The pool's items, as applied.
        pool: String,
        /// Number of addresses in the pool.
        size: u128,
        /// Addresses of the pool held by LoadBalancer Services.
        in_use: usize,
        /// With BGP on: the number of routers, and what the speakers advertise.
        bgp: Option<(usize, BgpAdvertising)>,
        /// What the speakers warn about: other hosts answering for announced addresses, then
        /// pool ranges no node can announce.
        warnings: Vec<String>,
    },
    /// The charm removed everything it created.
    Removed,
    /// This unit is going away while the application stays: nothing was removed.
    UnitLeaving,
}

/// The charm.
pub struct MetallbCharm {
    kube: KubeSource,
    outcome: Option<Outcome>,
    /// What the last apply took over or removed (the `adopt` action reports it).
    adopted: Vec<String>,
    /// Where the workloads run (namespace, node selector), once valid settings were read: what
    /// the scrape targets are looked up from.
    placement: Option<(String, std::collections::BTreeMap<String, String>)>,
    /// The Kubernetes API requests of this dispatch's hook path.
    requests: ApiRequests,
    /// The dispatch's connection to the cluster, made when first needed and shared by its
    /// reads and writes (each new connection costs a TLS handshake).
    cluster: std::cell::OnceCell<Rc<Cluster>>,
}

impl Default for MetallbCharm {
    fn default() -> Self {
        Self::new(KubeSource::Environment)
    }
}

impl MetallbCharm {
    /// A charm reaching Kubernetes through `kube`.
    pub fn new(kube: KubeSource) -> Self {
        Self {
            kube,
            outcome: None,
            adopted: Vec::new(),
            placement: None,
            requests: ApiRequests::default(),
            cluster: std::cell::OnceCell::new(),
        }
    }

    /// The dispatch's connection to the cluster (see [`MetallbCharm::cluster`]'s field).
    fn cluster(&self) -> Result<Rc<Cluster>, K8sError> {
        if let Some(cluster) = self.cluster.get() {
            return Ok(cluster.clone());
        }
        let cluster = Rc::new(Cluster::connect_counting(
            &self.kube,
            self.requests.clone(),
        )?);
        Ok(self.cluster.get_or_init(|| cluster).clone())
    }
}

/// How a reconcile writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Writes {
    /// Only the objects that differ from what was read (every hook).
    Changed,
    /// Every object, as the charm always did (the `sync-resources` and `adopt` actions: the
    /// operator asks for it).
    All,
}

/// The first words of the standby status; an update-status after it reconciles.
const STANDBY: &str = "standby";

/// How long to wait for freshly created CRDs to be served.
const CRD_WAIT: Duration = Duration::from_secs(30);

impl MetallbCharm {
    /// The validated options, or the problem with them.
    fn options(ctx: &Context<'_>) -> Result<Result<CharmConfig, ConfigProblem>> {
        let raw: RawConfig = ctx.config()?;
        Ok(CharmConfig::validate(&raw))
    }

    /// The validated options as render input, or the problem with them.
    pub(crate) fn settings(ctx: &Context<'_>) -> Result<Result<RenderInput, ConfigProblem>> {
        let mut config = match Self::options(ctx)? {
            Ok(config) => config,
            Err(problem) => return Ok(Err(problem)),
        };
        if let Some(bgp) = config.bgp.as_mut()
            && let Err(problem) = secrets::resolve_passwords(ctx, bgp, ctx.app_name())?
        {
            return Ok(Err(problem));
        }
        let image = |resource: &str, name: &str| -> String {
            ctx.resource_path(resource)
                .ok()
                .and_then(|path| images::registry_path(&path).ok())
                .unwrap_or_else(|| images::fallback(&config.image_registry, name))
        };
        Ok(Ok(RenderInput {
            model: ctx.model_name().to_string(),
            app: ctx.app_name().to_string(),
            namespace: config.namespace.clone(),
            addresses: config.addresses.clone(),
            node_selector: config.node_selector.clone(),
            l2_interfaces: config.l2_interfaces.clone(),
            bgp: config.bgp.clone(),
            controller_image: image("controller-image", images::CONTROLLER),
            speaker_image: image("speaker-image", images::SPEAKER),
            log_level: config.log_level.clone(),
            workloads: config.workloads.clone(),
        }))
    }

    /// Applies what differs from the desired state (everything with [`Writes::All`]),
    /// creates the memberlist secret, prunes what is no longer wanted; with `adopt`, takes
    /// over the user's objects that stand in the way.
    fn reconcile(&mut self, ctx: &Context<'_>, adopt: Adopt, writes: Writes) -> Result<Outcome> {
        if !ctx.is_leader()? {
            return Ok(Outcome::Standby);
        }
        let input = match Self::settings(ctx)? {
            Ok(input) => input,
            Err(problem) => return Ok(Outcome::BadConfig(problem)),
        };
        self.placement = Some((input.namespace.clone(), input.node_selector.clone()));
        let cluster = match self.cluster() {
            Ok(cluster) => cluster,
            Err(err) => return Ok(outcome_of(err)),
        };
        if let Some(class) = &input.workloads.priority_class {
            match cluster.priority_class_exists(class) {
                Ok(true) => {}
                Ok(false) => return Ok(Outcome::BadConfig(missing_priority_class(class))),
                Err(err) => return Ok(outcome_of(err)),
            }
        }
        let prepared = match prepare(&cluster, &input, adopt, writes) {
            Ok(Ok(prepared)) => prepared,
            Ok(Err(conflicts)) => return Ok(Outcome::Conflicts(conflicts)),
            Err(err) => return Ok(outcome_of(err)),
        };
        if prepared.writes_anything(adopt) {
            let applying = Status::maintenance("applying MetalLB objects");
            ctx.set_unit_status(&applying)?;
            if let Some(app) = ctx.app()? {
                app.set_status(&applying)?;
            }
        }
        Ok(match apply_all(&cluster, &input, adopt, prepared) {
            Ok(ApplyReport {
                readiness,
                adopted,
                report,
            }) => {
                for object in &adopted {
                    tracing::info!("adopted {object}");
                }
                self.adopted = adopted;
                applied(&input.addresses, input.bgp.as_ref(), readiness, report)
            }
            Err(err) => outcome_of(err),
        })
    }

    /// Publishes scrape jobs, alert rules and the dashboard to related applications, with the
    /// targets of the placement last read.
    fn publish(&self, ctx: &Context<'_>, leader: bool) -> Result<()> {
        publish::publish(ctx, leader, || {
            let Some((namespace, selector)) = &self.placement else {
                return Err(K8sError::Transient(
                    "no valid configuration yet: the workloads' placement is unknown".into(),
                ));
            };
            self.cluster()?.scrape_targets(namespace, selector)
        })
    }

    /// update-status: reads what the status reports, without applying or pruning anything,
    /// when the last hook left the application active; anything else reconciles (see
    /// [`observe`]).
    fn update_status(&mut self, ctx: &Context<'_>) -> Result<Outcome> {
        if !ctx.is_leader()? {
            return Ok(Outcome::Standby);
        }
        let last = ctx.unit_status()?;
        if last.status != "active" || last.message.starts_with(STANDBY) {
            return self.reconcile(ctx, Adopt::No, Writes::Changed);
        }
        let config = match Self::options(ctx)? {
            Ok(config) => config,
            Err(problem) => return Ok(Outcome::BadConfig(problem)),
        };
        self.placement = Some((config.namespace.clone(), config.node_selector.clone()));
        let instance = Instance::new(ctx.model_name(), ctx.app_name());
        let cluster = match self.cluster() {
            Ok(cluster) => cluster,
            Err(err) => return Ok(outcome_of(err)),
        };
        match observe(&cluster, &config, &instance) {
            Ok(Observed::Fine(outcome)) => Ok(outcome),
            Ok(Observed::Drifted(why)) => {
                tracing::info!("reconciling: {why}");
                self.reconcile(ctx, Adopt::No, Writes::Changed)
            }
            Err(err) => Ok(outcome_of(err)),
        }
    }

    /// Where the charm's Kubernetes credentials come from.
    pub(crate) fn kube(&self) -> &KubeSource {
        &self.kube
    }

    /// Reconciles for the `sync-resources` and `adopt` actions and keeps the outcome for the
    /// status: what the apply took over, or the outcome when it is not a success.
    pub(crate) fn sync(
        &mut self,
        ctx: &Context<'_>,
        adopt: Adopt,
    ) -> Result<std::result::Result<Vec<String>, Outcome>> {
        let outcome = self.reconcile(ctx, adopt, Writes::All)?;
        self.outcome = Some(outcome.clone());
        Ok(match outcome {
            Outcome::Applied { .. } => Ok(self.adopted.clone()),
            other => Err(other),
        })
    }

    /// Removes what this instance created when the application itself goes away (not when
    /// one unit leaves). Needs no valid config: ownership labels say what to remove. A failed
    /// clean-up fails the hook, so Juju retries it.
    fn remove(&mut self, ctx: &Context<'_>) -> Result<Outcome> {
        if ctx.planned_units()? > 0 {
            return Ok(Outcome::UnitLeaving);
        }
        if !ctx.is_leader()? {
            return Ok(Outcome::Standby);
        }
        let instance = Instance::new(ctx.model_name(), ctx.app_name());
        let cluster = self.cluster()?;
        let existing = cluster.inventory(MANAGED_KINDS)?;
        let deleted = execute(
            &cluster,
            &ownership::removal(&existing, &instance),
            &instance,
        )?;
        tracing::info!("removed {} objects", deleted.len());
        Ok(Outcome::Removed)
    }
}

/// A `priority-class` that names no PriorityClass: the API server would refuse every pod.
fn missing_priority_class(class: &str) -> ConfigProblem {
    ConfigProblem {
        option: "priority-class",
        item: class.to_string(),
        reason: "no PriorityClass of that name exists in the cluster (pods naming it would be refused): create it or unset priority-class".to_string(),
        missing: false,
    }
}

/// The parsed pool items (they were validated before being rendered).
fn ranges(items: &[String]) -> Vec<metallb_core::iprange::IpRange> {
    items
        .iter()
        .filter_map(|i| metallb_core::iprange::IpRange::parse(i).ok())
        .collect()
}

/// The BGP part of the active status, e.g. "; BGP to 2 routers: 1 Service advertised by 3
/// nodes".
fn bgp_summary(routers: usize, advertising: &BgpAdvertising) -> String {
    let s = |n: usize| if n == 1 { "" } else { "s" };
    format!(
        "; BGP to {routers} router{}: {} Service{} advertised by {} node{}",
        s(routers),
        advertising.services,
        s(advertising.services),
        advertising.nodes,
        s(advertising.nodes)
    )
}

/// The warnings part of the active status: "; 198.18.100.10 also answered by
/// 02:00:00:00:00:0c on eth0" for the first, and how many more.
fn warnings_summary(warnings: &[String]) -> String {
    match warnings {
        [] => String::new(),
        [one] => format!("; {one}"),
        [first, rest @ ..] => format!("; {first} (and {} more)", rest.len()),
    }
}

/// The blocked message for objects the charm may not take: the first one, how many more, and
/// what the operator can do.
fn conflict_message(conflicts: &[Conflict], unit: &str) -> String {
    let Some(first) = conflicts.first() else {
        return String::new();
    };
    let more = match conflicts.len() - 1 {
        0 => String::new(),
        n => format!(" (and {n} more)"),
    };
    let hint = if conflicts
        .iter()
        .any(|c| matches!(c.owner, ownership::Owner::OtherInstance(_)))
    {
        "set another namespace".to_string()
    } else {
        format!("run `juju run {unit} adopt` to hand it to the charm, or set another namespace")
    };
    format!("{first}{more}: {hint}")
}

fn outcome_of(err: K8sError) -> Outcome {
    match err {
        K8sError::Forbidden(message) => Outcome::NeedsTrust(message),
        K8sError::Refused(message) => Outcome::Refused(message),
        other => Outcome::ApiError(other.to_string()),
    }
}

/// The [`Outcome::Applied`] for the pool `addresses`, BGP settings `bgp`, and what was read.
fn applied(
    addresses: &[String],
    bgp: Option<&crate::config::BgpConfig>,
    readiness: Readiness,
    report: Report,
) -> Outcome {
    let pool = ranges(addresses);
    let in_use = report
        .load_balancer_ips
        .iter()
        .filter(|ip| pool.iter().any(|r| r.contains(**ip)))
        .count();
    let (namespace, name) = preflight::KUBE_PROXY_CONFIG_MAP;
    let blocker = match report.kube_proxy {
        Ok(data) => data.and_then(|d| preflight::kube_proxy_problem(&d)),
        // It never blocks on what it could not read.
        Err(err) => {
            tracing::warn!("cannot check kube-proxy's configuration ({namespace}/{name}): {err}");
            None
        }
    };
    Outcome::Applied {
        readiness,
        blocker,
        pool: addresses.join(", "),
        size: metallb_core::iprange::total_size(&pool),
        in_use,
        bgp: bgp.map(|b| (b.peers.len(), report.bgp.unwrap_or_default())),
        warnings: report.warnings,
    }
}

/// What [`apply_all`] found after applying.
struct ApplyReport {
    /// The workloads' readiness.
    readiness: Readiness,
    /// The objects it took over (the `adopt` action).
    adopted: Vec<String>,
    /// What the status reports besides readiness.
    report: Report,
}

/// What a reconcile read and will write.
struct Prepared {
    /// What ownership decided.
    plan: Plan,
    /// Everything read of the charm's kinds and names, later updated with what the API
    /// server answered to each apply.
    live: Snapshot,
    /// The objects of `plan.apply` to apply: all of them, or those that differ from `live`.
    pending: Vec<Desired>,
    /// Why each of `pending` is applied (with [`Writes::Changed`]).
    reasons: Vec<String>,
    /// Whether the memberlist Secret was not read (it is then created if absent).
    secret_unseen: bool,
    /// Whether the interface exclude list was not read (it is then created if absent).
    exclude_list_unseen: bool,
    /// What the status reports, read with the snapshot: used when nothing is written (None,
    /// or anything written: read again after applying).
    report: Option<Result<Report, K8sError>>,
}

impl Prepared {
    /// Whether applying it writes anything (the status then says so).
    fn writes_anything(&self, adopt: Adopt) -> bool {
        adopt == Adopt::Foreign
            || !self.pending.is_empty()
            || !self.plan.retire_workloads.is_empty()
            || !self.plan.prune.is_empty()
            || !self.plan.retire_namespaces.is_empty()
            || self.secret_unseen
            || self.exclude_list_unseen
    }
}

/// The charm's view of the cluster and what it would do there: every object it wants, and
/// what exists of its kinds or under the names it wants.
pub(crate) fn plan_for(
    cluster: &Cluster,
    input: &RenderInput,
    adopt: Adopt,
) -> Result<Result<Plan, Vec<Conflict>>, K8sError> {
    Ok(read_and_plan(cluster, input, adopt, false)?.map(|(plan, _, _)| plan))
}

/// [`plan_for`], with what was read: one label-selected list per kind the charm manages,
/// then a read by name of each wanted object those lists did not hold (someone else's, or
/// absent).
fn read_and_plan(
    cluster: &Cluster,
    input: &RenderInput,
    adopt: Adopt,
    with_report: bool,
) -> Result<ReadPlan, K8sError> {
    let desired = render(input);
    // A hook reads as informers do, from the API server's cache; adopting reads the latest.
    let freshness = match adopt {
        Adopt::No => Freshness::Cached,
        _ => Freshness::Latest,
    };
    let (mut live, report) = if with_report {
        let (live, report) = cluster.snapshot_and_report(
            MANAGED_KINDS,
            freshness,
            &input.namespace,
            input.bgp.is_some(),
        )?;
        (live, Some(report))
    } else {
        (cluster.snapshot(MANAGED_KINDS, Freshness::Latest)?, None)
    };
    let unknown: Vec<&Desired> = desired
        .iter()
        .filter(|d| live.live_of(d).is_none())
        .collect();
    live.record(cluster.lookup(&unknown)?);
    let keep = [
        (
            "Secret".to_string(),
            Some(input.namespace.clone()),
            MEMBERLIST_SECRET.to_string(),
        ),
        (
            "ConfigMap".to_string(),
            Some(input.namespace.clone()),
            EXCLUDE_CONFIG_MAP.to_string(),
        ),
    ];
    Ok(
        ownership::plan(desired, &live.existing(), &keep, &input.instance(), adopt)
            .map(|plan| (plan, live, report)),
    )
}

/// What [`read_and_plan`] decided and read, or the conflicts that stop it.
type ReadPlan = Result<(Plan, Snapshot, Option<Result<Report, K8sError>>), Vec<Conflict>>;

/// Reads and decides a reconcile: what to apply (see [`Writes`]; an adoption applies
/// everything) and what to create.
fn prepare(
    cluster: &Cluster,
    input: &RenderInput,
    adopt: Adopt,
    writes: Writes,
) -> Result<Result<Prepared, Vec<Conflict>>, K8sError> {
    let (plan, live, report) = match read_and_plan(cluster, input, adopt, true)? {
        Ok(read) => read,
        Err(conflicts) => return Ok(Err(conflicts)),
    };
    let mut pending = Vec::new();
    let mut reasons = Vec::new();
    for object in &plan.apply {
        let reason = match (adopt, writes) {
            (Adopt::No, Writes::Changed) => live.apply_needed(object, FIELD_MANAGER),
            _ => Some(String::new()),
        };
        if let Some(reason) = reason {
            pending.push(object.clone());
            reasons.push(reason);
        }
    }
    let namespace = Some(input.namespace.as_str());
    Ok(Ok(Prepared {
        secret_unseen: live.get("Secret", namespace, MEMBERLIST_SECRET).is_none(),
        exclude_list_unseen: live
            .get("ConfigMap", namespace, EXCLUDE_CONFIG_MAP)
            .is_none(),
        plan,
        live,
        pending,
        reasons,
        report,
    }))
}

/// Deletes what `plan` retires, workloads first; a retired Namespace only when nothing but
/// the charm's leftovers is in it. Returns what was deleted.
pub(crate) fn execute(
    cluster: &Cluster,
    plan: &Plan,
    instance: &Instance,
) -> Result<Vec<String>, K8sError> {
    let mut deleted = delete_if_still_ours(cluster, &plan.retire_workloads, instance)?;
    deleted.extend(delete_if_still_ours(cluster, &plan.prune, instance)?);
    for namespace in &plan.retire_namespaces {
        let others: Vec<String> = cluster
            .namespace_contents(namespace)?
            .iter()
            .filter(|o| !ownership::deletable_with_namespace(o, instance))
            .map(|o| o.describe())
            .collect();
        let target = Desired::namespace_target(namespace);
        if others.is_empty() {
            deleted.extend(delete_if_still_ours(
                cluster,
                std::slice::from_ref(&target),
                instance,
            )?);
        } else {
            // Given back to the user, so it is not examined again on every hook.
            cluster.release(&target)?;
            tracing::warn!(
                "kept namespace {namespace} and released it: it holds objects the charm did not create ({})",
                others.join(", ")
            );
        }
    }
    Ok(deleted)
}

/// Deletes those of `targets` that a fresh read still shows as this instance's to delete: a
/// hook's plan comes from the API server's cache (see [`read_and_plan`]), and the user may
/// have released an object (taken the charm's labels off) since.
fn delete_if_still_ours(
    cluster: &Cluster,
    targets: &[Desired],
    instance: &Instance,
) -> Result<Vec<String>, K8sError> {
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let mut fresh = Snapshot::default();
    fresh.record(cluster.lookup(&targets.iter().collect::<Vec<_>>())?);
    let confirmed: Vec<Desired> = targets
        .iter()
        .filter(|target| {
            fresh
                .live_of(target)
                .is_some_and(|live| ownership::retirable(&live.existing, instance))
        })
        .cloned()
        .collect();
    cluster.delete(&confirmed)
}

/// Deletes `objects` of the adopted installation and records each as removed.
fn remove_adopted(cluster: &Cluster, objects: &[Desired], plan: &mut Plan) -> Result<(), K8sError> {
    for object in cluster.delete(objects)? {
        tracing::info!("removed the adopted installation's {object}");
        plan.adopted.push(format!("{object} (removed)"));
    }
    Ok(())
}

/// Takes apart what of an adopted MetalLB installation must not outlive the adoption (see
/// `migration`): its webhook configurations and its workload bindings go, its CRDs stop
/// converting through its webhook, and its controller Deployment and speaker DaemonSet are
/// deleted so that the charm's are created, not merged into them. Records what went in
/// `plan.adopted`.
fn retire_adopted_installation(
    cluster: &Cluster,
    input: &RenderInput,
    plan: &mut Plan,
) -> Result<(), K8sError> {
    // The adopted installation's webhooks go first: once its controller is replaced,
    // nothing serves them and they would refuse every pool and peer.
    let mut configs = Vec::new();
    for kind in [
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
    ] {
        configs.extend(
            cluster
                .list("admissionregistration.k8s.io/v1", kind, None)?
                .iter()
                .map(|o| migration::WebhookConfiguration::from_object(kind, o)),
        );
    }
    let retire: Vec<Desired> = migration::webhooks_to_retire(&configs, &input.namespace)
        .into_iter()
        .map(|c| Desired::target("admissionregistration.k8s.io/v1", &c.kind, None, &c.name))
        .collect();
    remove_adopted(cluster, &retire, plan)?;
    let wanted: Vec<(String, Option<String>, String)> = plan
        .apply
        .iter()
        .map(|o| (o.kind.clone(), o.namespace.clone(), o.name.clone()))
        .collect();
    let mut bindings = Vec::new();
    for (kind, namespace) in [
        ("ClusterRoleBinding", None),
        ("RoleBinding", Some(input.namespace.as_str())),
    ] {
        bindings.extend(
            cluster
                .list("rbac.authorization.k8s.io/v1", kind, namespace)?
                .iter()
                .map(|o| migration::Binding::from_object(kind, o)),
        );
    }
    let retire: Vec<Desired> = migration::bindings_to_retire(&bindings, &input.namespace, &wanted)
        .into_iter()
        .map(|b| {
            Desired::target(
                "rbac.authorization.k8s.io/v1",
                &b.kind,
                b.namespace.as_deref(),
                &b.name,
            )
        })
        .collect();
    remove_adopted(cluster, &retire, plan)?;
    // Its CRDs stop converting through its webhook: the webhook settings belong to its
    // field manager, which an apply of ours would leave in place (and the API server then
    // refuses the strategy None we state).
    for crd in plan
        .apply
        .iter()
        .filter(|o| o.kind == ownership::CRD_KIND && plan.adopted.contains(&o.describe()))
    {
        cluster.merge_patch(&Desired {
            body: json!({"spec": {"conversion": {"strategy": "None", "webhook": null}}}),
            ..crd.clone()
        })?;
    }
    // Its workloads are replaced, not merged into: a server-side apply over them would
    // keep every container field of theirs that ours do not set (env, mounts, volumes).
    let replaced: Vec<Desired> = plan
        .apply
        .iter()
        .filter(|o| matches!(o.kind.as_str(), "Deployment" | "DaemonSet"))
        .filter(|o| plan.adopted.contains(&o.describe()))
        .cloned()
        .collect();
    for object in cluster.delete(&replaced)? {
        tracing::info!("replacing the adopted {object}");
    }
    Ok(())
}

/// Converts the pool and L2Advertisement the Python `metallb` charm wrote for this application
/// into the charm's (see `migration`): once the charm's pool (applied just before) holds every
/// address of the old pool, both old objects are deleted; otherwise they are kept and reported.
fn convert_predecessor_pool(
    cluster: &Cluster,
    input: &RenderInput,
    plan: &mut Plan,
) -> Result<(), K8sError> {
    let ns = Some(input.namespace.as_str());
    let old_pool = cluster
        .list("metallb.io/v1beta1", "IPAddressPool", ns)?
        .into_iter()
        .find(|o| migration::written_by_predecessor(o, &input.model, &input.app));
    let Some(old_pool) = old_pool else {
        return Ok(());
    };
    let name = migration::predecessor_name(&input.model, &input.app);
    let addresses = migration::pool_addresses(&old_pool);
    if !migration::pool_covers(&ranges(&input.addresses), &addresses) {
        tracing::warn!(
            "kept the previous charm's IPAddressPool {name} ({}): iprange does not hold all of it",
            addresses.join(",")
        );
        plan.adopted.push(format!(
            "IPAddressPool/{}/{name} (kept: iprange does not hold {})",
            input.namespace,
            addresses.join(",")
        ));
        return Ok(());
    }
    let mut old = vec![Desired::target(
        "metallb.io/v1beta1",
        "IPAddressPool",
        ns,
        &name,
    )];
    if cluster
        .list("metallb.io/v1beta1", "L2Advertisement", ns)?
        .iter()
        .any(|o| migration::written_by_predecessor(o, &input.model, &input.app))
    {
        old.push(Desired::target(
            "metallb.io/v1beta1",
            "L2Advertisement",
            ns,
            &name,
        ));
    }
    for object in cluster.delete(&old)? {
        tracing::info!("converted the previous charm's {object} into the charm's pool");
        plan.adopted
            .push(format!("{object} (converted into {})", input.pool_name()));
    }
    Ok(())
}

/// Whether a CRD as read or applied is established (served).
fn established(crd: Option<&crate::k8s::Live>) -> bool {
    crd.and_then(|c| c.body["status"]["conditions"].as_array())
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c["type"] == "Established" && c["status"] == "True")
        })
}

/// Applies what `prepared` holds, prunes, and reads what the status reports.
fn apply_all(
    cluster: &Cluster,
    input: &RenderInput,
    adopt: Adopt,
    prepared: Prepared,
) -> Result<ApplyReport, K8sError> {
    // What the status reports was read with the inventory; after writing, it is read again
    // (a kind it lists may only now be installed, and what was written may show in it).
    let wrote = prepared.writes_anything(adopt);
    let Prepared {
        mut plan,
        mut live,
        pending,
        reasons,
        secret_unseen,
        exclude_list_unseen,
        report,
    } = prepared;
    if !pending.is_empty() && adopt == Adopt::No {
        let what: Vec<String> = pending
            .iter()
            .zip(&reasons)
            .map(|(o, why)| format!("{} ({why})", o.describe()))
            .collect();
        tracing::debug!(
            "applying {} of {} objects: {}",
            pending.len(),
            plan.apply.len(),
            what.join(", ")
        );
    }
    if adopt == Adopt::Foreign {
        retire_adopted_installation(cluster, input, &mut plan)?;
    }
    // Old workloads go before new ones start: never two allocators at once.
    let retired = std::mem::take(&mut plan.retire_workloads);
    for object in delete_if_still_ours(cluster, &retired, &input.instance())? {
        tracing::info!("removed {object} before starting its replacement");
    }
    let (namespace_and_crds, rest): (Vec<Desired>, Vec<Desired>) = pending
        .into_iter()
        .partition(|o| o.kind == "Namespace" || o.kind == ownership::CRD_KIND);
    live.record(cluster.apply(&namespace_and_crds)?);
    // Every wanted CRD must be served before objects of its kind are applied: those just
    // applied, and any read as not established yet.
    let crd_names: Vec<String> = plan
        .apply
        .iter()
        .filter(|o| o.kind == ownership::CRD_KIND && !established(live.live_of(o)))
        .map(|o| o.name.clone())
        .collect();
    cluster.wait_crds_established(&crd_names, CRD_WAIT)?;
    if secret_unseen {
        cluster.ensure_memberlist_secret(&input.namespace, &input.labels())?;
    }
    if exclude_list_unseen && cluster.create_if_absent(&exclude_list(input))? {
        tracing::info!("created the interface exclude list {EXCLUDE_CONFIG_MAP}");
    }
    live.record(cluster.apply(&rest)?);
    if adopt == Adopt::Foreign {
        convert_predecessor_pool(cluster, input, &mut plan)?;
    }
    for object in execute(cluster, &plan, &input.instance())? {
        tracing::info!("pruned {object}");
    }
    let [controller, speaker] = Cluster::workload_targets(&input.namespace);
    let readiness = cluster.explain_readiness(
        &input.namespace,
        Readiness::of(
            live.live_of(&controller).map(|l| &l.body),
            live.live_of(&speaker).map(|l| &l.body),
        ),
    )?;
    Ok(ApplyReport {
        readiness,
        adopted: plan.adopted,
        report: match report.filter(|_| !wrote) {
            Some(report) => report?,
            None => cluster.report(&input.namespace, input.bgp.is_some())?,
        },
    })
}

/// What update-status read.
enum Observed {
    /// Everything it checks is as the last reconcile left it: the status to report.
    Fine(Outcome),
    /// Something is missing, not ready or different: why (a full reconcile follows).
    Drifted(String),
}

/// update-status's reads: the controller Deployment, the speaker DaemonSet and
/// the IPAddressPool (present, this instance's, the pool holding `iprange`, the workloads
/// ready), and what the status reports (see [`Report`]). Nothing is applied or pruned here:
/// drift anywhere else is repaired by the next hook that reconciles (every other event) or by
/// `sync-resources`, and what breaks the workloads shows here as pods not ready.
fn observe(
    cluster: &Cluster,
    config: &CharmConfig,
    instance: &Instance,
) -> Result<Observed, K8sError> {
    let namespace = config.namespace.as_str();
    let [controller, speaker] = Cluster::workload_targets(namespace);
    let pool = Desired::target(
        "metallb.io/v1beta1",
        "IPAddressPool",
        Some(namespace),
        &instance.pool_name(),
    );
    let (found, report) = cluster.lookup_and_report(
        &[&controller, &speaker, &pool],
        namespace,
        config.bgp.is_some(),
    )?;
    let mut live = Snapshot::default();
    live.record(found);
    for object in [&controller, &speaker, &pool] {
        let ours = live.live_of(object).is_some_and(|o| {
            o.existing
                .labels
                .get(LABEL_INSTANCE)
                .is_some_and(|label| instance.owns_label(label))
        });
        if !ours {
            return Ok(Observed::Drifted(format!(
                "{} is missing or not the charm's",
                object.describe()
            )));
        }
    }
    let addresses = live
        .live_of(&pool)
        .map(|p| p.body["spec"]["addresses"].clone())
        .unwrap_or_default();
    if addresses != json!(config.addresses) {
        return Ok(Observed::Drifted(format!(
            "{} holds {addresses}, not the iprange",
            pool.describe()
        )));
    }
    let readiness = Readiness::of(
        live.live_of(&controller).map(|l| &l.body),
        live.live_of(&speaker).map(|l| &l.body),
    );
    if !readiness.ready() {
        return Ok(Observed::Drifted("the workloads are not ready".to_string()));
    }
    Ok(Observed::Fine(applied(
        &config.addresses,
        config.bgp.as_ref(),
        readiness,
        report,
    )))
}

mod hooks;
mod publish;
mod secrets;

#[cfg(test)]
mod api_tests;
#[cfg(test)]
mod cos_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use juju_ops::testing::{Harness, State, TestEvent};

    fn harness() -> Harness {
        Harness::new(env!("CARGO_MANIFEST_DIR")).unwrap()
    }

    #[test]
    fn warnings_show_the_first_and_a_count() {
        assert_eq!(warnings_summary(&[]), "");
        let one = "198.18.100.10 also answered by 02:00:00:00:00:0c on eth0".to_string();
        assert_eq!(
            warnings_summary(std::slice::from_ref(&one)),
            format!("; {one}")
        );
        let two = [
            one.clone(),
            "198.18.100.11 also answered by 02:00:00:00:00:0d on eth0".into(),
        ];
        assert_eq!(warnings_summary(&two), format!("; {one} (and 1 more)"));
    }

    #[test]
    fn the_bgp_summary_counts_in_plain_words() {
        let none = BgpAdvertising::default();
        assert_eq!(
            bgp_summary(1, &none),
            "; BGP to 1 router: 0 Services advertised by 0 nodes"
        );
        let some = BgpAdvertising {
            services: 1,
            nodes: 3,
        };
        assert_eq!(
            bgp_summary(2, &some),
            "; BGP to 2 routers: 1 Service advertised by 3 nodes"
        );
    }

    #[test]
    fn metadata_parses() {
        let h = harness();
        assert_eq!(h.meta().name, "metallb");
        assert!(h.meta().options.contains_key("iprange"));
        assert!(h.meta().actions.contains_key("list-allocations"));
    }

    #[test]
    fn a_bad_iprange_blocks_and_names_the_item() {
        let state = State::default().with_config("iprange", "198.18.0.1-198.18.0.300");
        let out = harness()
            .run(
                |_| MetallbCharm::new(KubeSource::Disabled),
                TestEvent::hook("config-changed"),
                state,
            )
            .unwrap();
        assert!(out.success);
        match out.state.unit_status {
            Status::Blocked(m) => assert!(
                m.contains("198.18.0.300") && m.starts_with("invalid iprange"),
                "{m}"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_bad_node_selector_blocks() {
        let state = State::default()
            .with_config("iprange", "198.18.0.0/28")
            .with_config("node-selector", "nolabel");
        let out = harness()
            .run(
                |_| MetallbCharm::new(KubeSource::Disabled),
                TestEvent::hook("config-changed"),
                state,
            )
            .unwrap();
        assert_eq!(
            out.state.unit_status,
            Status::blocked(
                "invalid node-selector \"nolabel\": expected key=value (for example kubernetes.io/os=linux)"
            )
        );
    }

    #[test]
    fn non_leaders_are_standby() {
        let out = harness()
            .run(
                |_| MetallbCharm::new(KubeSource::Disabled),
                TestEvent::hook("config-changed"),
                State::default().with_leader(false),
            )
            .unwrap();
        assert_eq!(
            out.state.unit_status,
            Status::active("standby: the leader unit manages MetalLB")
        );
        assert_eq!(out.state.app_status, Status::Unknown);
    }

    #[test]
    fn no_cluster_means_waiting_not_failing() {
        // No KUBECONFIG and no in-cluster service account: reported and retried, never a crash.
        let out = harness()
            .run(
                |_| MetallbCharm::new(KubeSource::Disabled),
                TestEvent::hook("config-changed"),
                State::default().with_config("iprange", "198.18.0.0/28"),
            )
            .unwrap();
        assert!(out.success);
        assert!(
            matches!(out.state.unit_status, Status::Waiting(_)),
            "{:?}",
            out.state.unit_status
        );
    }

    #[test]
    fn a_bare_deploy_is_blocked_until_iprange_is_set() {
        let out = harness()
            .run(
                |_| MetallbCharm::new(KubeSource::Disabled),
                TestEvent::hook("config-changed"),
                State::default(),
            )
            .unwrap();
        match out.state.unit_status {
            Status::Blocked(m) => assert!(m.starts_with("set iprange to the addresses"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_failed_clean_up_fails_the_remove_hook() {
        // The cluster cannot be reached: Juju must retry the hook, not forget the objects.
        let out = harness()
            .run(
                |_| MetallbCharm::new(KubeSource::Disabled),
                TestEvent::hook("remove"),
                State::default().with_planned_units(0),
            )
            .unwrap();
        assert!(!out.success);
    }

    #[test]
    fn removing_one_unit_removes_nothing_even_on_the_leader() {
        // The application stays: the cluster is not even contacted (it is unreachable here,
        // which would fail the hook).
        let out = harness()
            .run(
                |_| MetallbCharm::new(KubeSource::Disabled),
                TestEvent::hook("remove"),
                State::default().with_dying(true).with_planned_units(1),
            )
            .unwrap();
        assert!(out.success);
    }

    #[test]
    fn conflicts_name_the_object_and_the_way_out() {
        let foreign = Conflict {
            object: "Namespace/metallb-system".into(),
            owner: ownership::Owner::Foreign,
        };
        assert_eq!(
            conflict_message(std::slice::from_ref(&foreign), "metallb/0"),
            "Namespace/metallb-system exists and was not created by this charm: run `juju run metallb/0 adopt` to hand it to the charm, or set another namespace"
        );
        let other = Conflict {
            object: "Deployment/ns/controller".into(),
            owner: ownership::Owner::OtherInstance("m2.metallb".into()),
        };
        assert_eq!(
            conflict_message(&[other, foreign], "metallb/0"),
            "Deployment/ns/controller belongs to charm instance m2.metallb (and 1 more): set another namespace"
        );
    }
}
