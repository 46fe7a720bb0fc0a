//! Restart safety under churn (issue 14), against the real API server: the controller binary is
//! killed with SIGKILL at a random moment of every round of a burst of Service creations,
//! deletions, requests that stop parsing, and pool edits (a pool grown, an overlapping pool and
//! an L2Advertisement naming a missing pool that make the configuration invalid for a while, a
//! pool added and removed), then started again at once. After each round: no address is held by
//! two Services (except pairs sharing with `allow-shared-ip`, and never one held by a Service of
//! another class), and every Service that held an address at the kill still holds it. A watch
//! also records every change of a held address and every duplicate, however brief.
//!
//! Used by `tests/churn.rs` (small, in CI) and `benches/churn.rs` (`cargo xtask bench churn`).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use metallb_api::{IPAddressPool, L2Advertisement};
use metallb_controller::convert::current_ips;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use serde_json::json;
use test_support::{TestNamespace, cluster, wait_for};

/// The main pool (4,096 addresses).
const MAIN: &str = "198.18.64.0/20";

/// Another controller's class.
const OTHER_CLASS: &str = "other.test/churn";

/// Addresses held by Services of another class: two inside the main pool, one outside.
const FOREIGN: [&str; 3] = ["198.18.64.0", "198.18.64.7", "198.18.200.9"];

/// Requests in flight at once.
const CONCURRENCY: usize = 16;

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Services alive at any time (about).
    pub services: usize,
    /// Rounds (one kill each).
    pub rounds: usize,
    /// Seed of every random choice (printed; `CHURN_SEED` repeats a run).
    pub seed: u64,
    /// The controller binary.
    pub controller: PathBuf,
}

impl Options {
    /// From `CHURN_SERVICES`, `CHURN_ROUNDS` and `CHURN_SEED` (else the defaults given and a
    /// seed from the clock), with `CHURN_CONTROLLER_BIN` or else `controller`.
    pub fn from_env(controller: &str, services: usize, rounds: usize) -> Result<Self> {
        let number = |name: &str, default: u64| -> Result<u64> {
            match std::env::var(name) {
                Ok(value) => value
                    .parse()
                    .with_context(|| format!("{name}={value:?} is not a number")),
                Err(_) => Ok(default),
            }
        };
        let clock = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Ok(Self {
            services: usize::try_from(number("CHURN_SERVICES", services as u64)?)?,
            rounds: usize::try_from(number("CHURN_ROUNDS", rounds as u64)?)?,
            seed: number("CHURN_SEED", clock)?,
            controller: std::env::var_os("CHURN_CONTROLLER_BIN")
                .map_or_else(|| PathBuf::from(controller), PathBuf::from),
        })
    }
}

/// One round's figures.
#[derive(Debug, Clone, Default)]
pub struct Round {
    /// 1-based.
    pub round: usize,
    /// Services of ours alive after the round.
    pub services: usize,
    /// Created, deleted, requests broken or fixed, pool edits.
    pub created: usize,
    /// Deleted.
    pub deleted: usize,
    /// Requests made unparsable or fixed.
    pub requests: usize,
    /// Pool and advertisement edits.
    pub edits: usize,
    /// When the controller was killed, from the start of the burst.
    pub killed_after: Duration,
    /// Whether the configuration was invalid when it was killed.
    pub invalid_at_kill: bool,
    /// Services of ours holding addresses at the kill.
    pub held: usize,
    /// Of those (and not deleted since), how many hold the same addresses after the round.
    pub kept: usize,
    /// The others: `name: before -> after`.
    pub lost: Vec<String>,
    /// Addresses held by two Services against the rules after the round.
    pub duplicates: Vec<String>,
    /// From the end of the burst until every Service had an address.
    pub converged: Duration,
}

/// The figures of a whole run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The seed.
    pub seed: u64,
    /// Per round.
    pub rounds: Vec<Round>,
    /// Held addresses the watch saw change (any time, also between rounds).
    pub changes: Vec<String>,
    /// Duplicates the watch saw, however brief.
    pub transient_duplicates: Vec<String>,
}

impl Report {
    /// Whether every held address was kept and none was ever held twice against the rules.
    pub fn held(&self) -> bool {
        self.changes.is_empty()
            && self.transient_duplicates.is_empty()
            && self
                .rounds
                .iter()
                .all(|r| r.lost.is_empty() && r.duplicates.is_empty())
    }

    /// Prints a table and the totals.
    pub fn print(&self) {
        println!("restart under churn, seed {} (CHURN_SEED)", self.seed);
        println!(
            "{:>5} {:>8} {:>7} {:>7} {:>8} {:>5} {:>9} {:>14} {:>6} {:>6} {:>5} {:>5} {:>10}",
            "round",
            "services",
            "created",
            "deleted",
            "requests",
            "edits",
            "killed at",
            "config at kill",
            "held",
            "kept",
            "lost",
            "dups",
            "converged"
        );
        for r in &self.rounds {
            println!(
                "{:>5} {:>8} {:>7} {:>7} {:>8} {:>5} {:>8.2}s {:>14} {:>6} {:>6} {:>5} {:>5} {:>9.2}s",
                r.round,
                r.services,
                r.created,
                r.deleted,
                r.requests,
                r.edits,
                r.killed_after.as_secs_f64(),
                if r.invalid_at_kill {
                    "invalid"
                } else {
                    "valid"
                },
                r.held,
                r.kept,
                r.lost.len(),
                r.duplicates.len(),
                r.converged.as_secs_f64()
            );
            for line in r.lost.iter().chain(&r.duplicates) {
                println!("      {line}");
            }
        }
        let held: usize = self.rounds.iter().map(|r| r.held).sum();
        let kept: usize = self.rounds.iter().map(|r| r.kept).sum();
        let lost: usize = self.rounds.iter().map(|r| r.lost.len()).sum();
        let duplicates: usize = self.rounds.iter().map(|r| r.duplicates.len()).sum();
        println!(
            "total: {} rounds, {held} addresses held at the kills, {kept} kept, {lost} lost; {duplicates} duplicates after the rounds",
            self.rounds.len()
        );
        println!(
            "watch: {} held addresses changed, {} duplicates seen at any moment",
            self.changes.len(),
            self.transient_duplicates.len()
        );
        for line in self.changes.iter().chain(&self.transient_duplicates) {
            println!("      {line}");
        }
        println!("verdict: {}", if self.held() { "held" } else { "FAILED" });
    }
}

/// The controller process.
struct Controller {
    child: Child,
    command: Vec<String>,
    program: PathBuf,
}

impl Controller {
    fn start(program: PathBuf, command: Vec<String>) -> Result<Self> {
        let child = test_support::spawn_tied(
            Command::new(&program)
                .args(&command)
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )?;
        Ok(Self {
            child,
            command,
            program,
        })
    }

    /// SIGKILL, then a new process at once.
    fn kill_and_restart(&mut self) -> Result<()> {
        self.child.kill().context("cannot kill the controller")?;
        self.child.wait().context("cannot reap the controller")?;
        *self = Self::start(self.program.clone(), self.command.clone())?;
        Ok(())
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the watch saw of one Service.
#[derive(Debug, Clone)]
struct Seen {
    ips: Vec<IpAddr>,
    /// The sharing key of a Service of ours (None: does not share); foreign Services never do.
    share: Option<String>,
    ours: bool,
}

/// Every Service's addresses as the watch sees them, and every rule it saw broken.
#[derive(Debug, Default)]
struct Observer {
    services: HashMap<String, Seen>,
    owners: BTreeMap<IpAddr, BTreeSet<String>>,
    relist: Option<HashSet<String>>,
    changes: Vec<String>,
    duplicates: Vec<String>,
}

impl Observer {
    fn applied(&mut self, service: &Service, class: &str) {
        let name = service.metadata.name.clone().unwrap_or_default();
        if let Some(seen) = self.relist.as_mut() {
            seen.insert(name.clone());
        }
        let ours = service
            .spec
            .as_ref()
            .and_then(|s| s.load_balancer_class.as_deref())
            == Some(class);
        let share = service
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("metallb.io/allow-shared-ip"))
            .filter(|k| ours && !k.is_empty())
            .cloned();
        let ips = current_ips(service);
        if let Some(before) = self.services.get(&name)
            && !before.ips.is_empty()
            && before.ips != ips
        {
            self.changes
                .push(format!("{name}: {:?} -> {ips:?}", before.ips));
        }
        self.remove(&name);
        for ip in &ips {
            self.owners.entry(*ip).or_default().insert(name.clone());
        }
        self.services.insert(
            name.clone(),
            Seen {
                ips: ips.clone(),
                share,
                ours,
            },
        );
        for ip in &ips {
            if let Some(problem) = self.check(*ip) {
                self.duplicates.push(problem);
            }
        }
    }

    fn remove(&mut self, name: &str) {
        if let Some(before) = self.services.remove(name) {
            for ip in before.ips {
                if let Some(owners) = self.owners.get_mut(&ip) {
                    owners.remove(name);
                    if owners.is_empty() {
                        self.owners.remove(&ip);
                    }
                }
            }
        }
    }

    /// A description of `ip`'s holders if they break the sharing rules.
    fn check(&self, ip: IpAddr) -> Option<String> {
        let owners = self.owners.get(&ip)?;
        if owners.len() < 2 {
            return None;
        }
        let shares: BTreeSet<Option<&String>> = owners
            .iter()
            .map(|o| {
                self.services
                    .get(o)
                    .filter(|s| s.ours)
                    .and_then(|s| s.share.as_ref())
            })
            .collect();
        let allowed = shares.len() == 1 && shares.iter().all(Option::is_some);
        (!allowed).then(|| format!("{ip} held by {owners:?}"))
    }

    fn event(&mut self, event: watcher::Event<Service>, class: &str) {
        match event {
            watcher::Event::Apply(s) | watcher::Event::InitApply(s) => self.applied(&s, class),
            watcher::Event::Delete(s) => self.remove(&s.metadata.name.unwrap_or_default()),
            watcher::Event::Init => self.relist = Some(HashSet::new()),
            watcher::Event::InitDone => {
                if let Some(seen) = self.relist.take() {
                    let gone: Vec<String> = self
                        .services
                        .keys()
                        .filter(|k| !seen.contains(*k))
                        .cloned()
                        .collect();
                    for name in gone {
                        self.remove(&name);
                    }
                }
            }
        }
    }
}

/// One change of the burst.
#[derive(Debug, Clone)]
enum Op {
    Create(String),
    Delete(String),
    Break(String),
    Fix(String),
}

/// How far the burst is: changes made, parts finished; every step wakes the killer.
struct Progress {
    done: AtomicUsize,
    finished: AtomicUsize,
    tx: tokio::sync::watch::Sender<()>,
}

impl Progress {
    fn step(&self) {
        self.done.fetch_add(1, Ordering::Relaxed);
        self.tx.send_replace(());
    }

    fn finish(&self) {
        self.finished.fetch_add(1, Ordering::Relaxed);
        self.tx.send_replace(());
    }

    /// Waits until `n` changes were made or `parts` parts finished.
    async fn reached(&self, n: usize, parts: usize) {
        let mut rx = self.tx.subscribe();
        while self.done.load(Ordering::Relaxed) < n && self.finished.load(Ordering::Relaxed) < parts
        {
            if rx.changed().await.is_err() {
                return;
            }
        }
    }
}

/// The test's handles on the cluster.
struct Cluster {
    services: Api<Service>,
    pools: Api<IPAddressPool>,
    ads: Api<L2Advertisement>,
    class: String,
}

impl Cluster {
    async fn create(&self, name: &str, annotations: serde_json::Value, port: i32) -> Result<()> {
        let svc: Service = serde_json::from_value(json!({
            "metadata": {"name": name, "annotations": annotations},
            "spec": {"type": "LoadBalancer", "loadBalancerClass": self.class,
                "allocateLoadBalancerNodePorts": false, "ports": [{"port": port}]},
        }))?;
        self.services
            .create(&PostParams::default(), &svc)
            .await
            .with_context(|| format!("creating {name}"))?;
        Ok(())
    }

    async fn op(&self, op: &Op) -> Result<()> {
        let annotate = |value: serde_json::Value| {
            Patch::Merge(
                json!({"metadata": {"annotations": {"metallb.io/loadBalancerIPs": value}}}),
            )
        };
        match op {
            Op::Create(name) => self.create(name, json!({}), 80).await?,
            Op::Delete(name) => {
                self.services.delete(name, &DeleteParams::default()).await?;
            }
            Op::Break(name) => {
                self.services
                    .patch(name, &PatchParams::default(), &annotate(json!("not-an-ip")))
                    .await?;
            }
            Op::Fix(name) => {
                self.services
                    .patch(name, &PatchParams::default(), &annotate(json!(null)))
                    .await?;
            }
        }
        Ok(())
    }

    async fn apply_pool(&self, name: &str, spec: serde_json::Value) -> Result<()> {
        let pool: IPAddressPool = serde_json::from_value(json!({
            "apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
            "metadata": {"name": name}, "spec": spec,
        }))?;
        self.pools
            .patch(
                name,
                &PatchParams::apply("churn").force(),
                &Patch::Apply(&pool),
            )
            .await?;
        Ok(())
    }

    /// The pool and advertisement edits of `round`, in order; `invalid` is set while the
    /// configuration is invalid; every edit is a step of `progress`.
    async fn edits(&self, round: usize, invalid: &AtomicBool, progress: &Progress) -> Result<()> {
        let step = || progress.step();
        // Grown by a /24 (never shrunk: a held address must stay valid).
        let mut addresses = vec![MAIN.to_string()];
        addresses.extend((0..round.min(40)).map(|k| format!("198.18.{}.0/24", 80 + k)));
        self.apply_pool("main", json!({"addresses": addresses}))
            .await?;
        step();
        // Invalid for a moment: two pools overlap (the previous configuration stays in force).
        invalid.store(true, Ordering::Relaxed);
        self.apply_pool("overlap", json!({"addresses": ["198.18.64.0/28"]}))
            .await?;
        step();
        self.pools
            .delete("overlap", &DeleteParams::default())
            .await?;
        invalid.store(false, Ordering::Relaxed);
        step();
        // Invalid for a moment: an advertisement names a pool that does not exist.
        invalid.store(true, Ordering::Relaxed);
        let ad: L2Advertisement = serde_json::from_value(json!({
            "apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement",
            "metadata": {"name": "broken"}, "spec": {"ipAddressPools": ["missing"]},
        }))?;
        self.ads.create(&PostParams::default(), &ad).await?;
        step();
        self.ads.delete("broken", &DeleteParams::default()).await?;
        invalid.store(false, Ordering::Relaxed);
        step();
        // A pool nobody allocates from comes and goes.
        let side = |r: usize| format!("side-{}", r % 2);
        self.apply_pool(
            &side(round),
            json!({"addresses": [format!("198.18.{}.0/28", 126 + round % 2)], "autoAssign": false}),
        )
        .await?;
        step();
        if self.pools.get_opt(&side(round + 1)).await?.is_some() {
            self.pools
                .delete(&side(round + 1), &DeleteParams::default())
                .await?;
        }
        step();
        Ok(())
    }

    /// Services of ours: name -> addresses.
    async fn snapshot(&self) -> Result<BTreeMap<String, Vec<IpAddr>>> {
        let list = self.services.list(&Default::default()).await?;
        Ok(list
            .items
            .iter()
            .filter(|s| {
                s.spec
                    .as_ref()
                    .and_then(|s| s.load_balancer_class.as_deref())
                    == Some(self.class.as_str())
            })
            .map(|s| (s.metadata.name.clone().unwrap_or_default(), current_ips(s)))
            .collect())
    }

    /// Waits until every Service of ours has an address; returns them.
    async fn converged(&self, timeout: Duration) -> Result<BTreeMap<String, Vec<IpAddr>>> {
        wait_for("every Service to have an address", timeout, || async {
            let all = self.snapshot().await?;
            Ok(all.values().all(|ips| !ips.is_empty()).then_some(all))
        })
        .await
    }
}

/// Edits made per round (see [`Cluster::edits`]).
const EDITS: usize = 7;

/// Runs the scenario.
pub async fn run(options: &Options) -> Result<Report> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(options.seed);
    let cluster = cluster();
    let client = cluster.client().await?;
    test_support::install_crds(&client, metallb_api::crds()).await?;
    let metallb = TestNamespace::create(cluster, "metallb").await?;
    let apps = TestNamespace::create(cluster, "churn").await?;
    let handles = Cluster {
        services: Api::namespaced(client.clone(), &apps.name),
        pools: Api::namespaced(client.clone(), &metallb.name),
        ads: Api::namespaced(client.clone(), &metallb.name),
        class: format!("metallb.test/{}", apps.name),
    };
    handles
        .apply_pool("main", json!({"addresses": [MAIN]}))
        .await?;
    // Services of another controller, holding addresses of their own.
    for (i, address) in FOREIGN.iter().enumerate() {
        let name = format!("foreign-{i}");
        let svc: Service = serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"type": "LoadBalancer", "loadBalancerClass": OTHER_CLASS,
                "allocateLoadBalancerNodePorts": false, "ports": [{"port": 80}]},
        }))?;
        handles
            .services
            .create(&PostParams::default(), &svc)
            .await?;
        handles
            .services
            .patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {"loadBalancer": {"ingress": [{"ip": address}]}}})),
            )
            .await?;
    }
    let observer = Arc::new(Mutex::new(Observer::default()));
    let watch = {
        let observer = observer.clone();
        let class = handles.class.clone();
        let stream =
            watcher(handles.services.clone(), watcher::Config::default()).default_backoff();
        tokio::spawn(async move {
            let mut stream = std::pin::pin!(stream);
            while let Ok(Some(event)) = stream.try_next().await {
                observer
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .event(event, &class);
            }
        })
    };
    let command: Vec<String> = [
        "--kubeconfig",
        &cluster.kubeconfig().display().to_string(),
        "--namespace",
        &metallb.name,
        "--lb-class",
        &handles.class,
        "--log-level",
        "warn",
        "--health-probe-port",
        "0",
        "--port",
        "0",
        "--ml-secret-name",
        "",
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    let mut controller = Controller::start(options.controller.clone(), command)?;
    let converge_timeout =
        Duration::from_secs(60) + Duration::from_millis(60) * options.services as u32;

    // The population: every tenth pair of Services shares an address (allow-shared-ip).
    let population: Vec<(String, serde_json::Value, i32)> = (0..options.services)
        .map(|i| {
            let pair = i - i % 2;
            if pair % 20 == 0 {
                let key = json!({"metallb.io/allow-shared-ip": format!("pair-{pair}")});
                (format!("s-{i:05}"), key, 80 + (i % 2) as i32)
            } else {
                (format!("s-{i:05}"), json!({}), 80)
            }
        })
        .collect();
    futures::stream::iter(&population)
        .map(|(name, annotations, port)| handles.create(name, annotations.clone(), *port))
        .buffer_unordered(CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;
    handles.converged(converge_timeout).await?;
    let mut alive: Vec<String> = population.into_iter().map(|(n, _, _)| n).collect();
    let mut broken: Vec<String> = Vec::new();

    let mut report = Report {
        seed: options.seed,
        ..Report::default()
    };
    for round in 1..=options.rounds {
        let churn = (options.services / 10).max(1);
        alive.shuffle(&mut rng);
        let (deleted, kept_alive): (Vec<String>, Vec<String>) = {
            let mut deleted = Vec::new();
            let mut rest = Vec::new();
            for name in alive.drain(..) {
                if deleted.len() < churn && !broken.contains(&name) {
                    deleted.push(name);
                } else {
                    rest.push(name);
                }
            }
            (deleted, rest)
        };
        let created: Vec<String> = (0..churn).map(|i| format!("r{round:02}-{i:05}")).collect();
        let to_break: Vec<String> = kept_alive
            .iter()
            .filter(|n| !broken.contains(*n))
            .take(5)
            .cloned()
            .collect();
        let mut ops: Vec<Op> = created.iter().cloned().map(Op::Create).collect();
        ops.extend(deleted.iter().cloned().map(Op::Delete));
        ops.extend(to_break.iter().cloned().map(Op::Break));
        ops.extend(broken.iter().cloned().map(Op::Fix));
        ops.shuffle(&mut rng);
        let requests = to_break.len() + broken.len();
        let total = ops.len() + EDITS;
        let kill_at = rng.random_range(0..total);

        let invalid = AtomicBool::new(false);
        let progress = Progress {
            done: AtomicUsize::new(0),
            finished: AtomicUsize::new(0),
            tx: tokio::sync::watch::Sender::new(()),
        };
        let started = Instant::now();
        let burst = async {
            let result = futures::stream::iter(&ops)
                .map(|op| async {
                    let result = handles.op(op).await;
                    progress.step();
                    result
                })
                .buffer_unordered(CONCURRENCY)
                .try_collect::<Vec<()>>()
                .await;
            progress.finish();
            result
        };
        let edits = async {
            let result = handles.edits(round, &invalid, &progress).await;
            progress.finish();
            result
        };
        let kill = async {
            progress.reached(kill_at, 2).await;
            let snapshot = handles.snapshot().await?;
            let invalid_at_kill = invalid.load(Ordering::Relaxed);
            let killed_after = started.elapsed();
            controller.kill_and_restart()?;
            Ok::<_, anyhow::Error>((snapshot, invalid_at_kill, killed_after))
        };
        let (burst, edits, kill) = tokio::join!(burst, edits, kill);
        burst?;
        edits?;
        let (before, invalid_at_kill, killed_after) = kill?;
        let burst_done = Instant::now();
        let after = handles.converged(converge_timeout).await?;
        let converged = burst_done.elapsed();

        let gone: HashSet<&String> = deleted.iter().collect();
        let mut result = Round {
            round,
            created: created.len(),
            deleted: deleted.len(),
            requests,
            edits: EDITS,
            killed_after,
            invalid_at_kill,
            converged,
            services: after.len(),
            ..Round::default()
        };
        for (name, ips) in &before {
            if ips.is_empty() || gone.contains(name) {
                continue;
            }
            result.held += 1;
            match after.get(name) {
                Some(now) if now == ips => result.kept += 1,
                now => result.lost.push(format!("{name}: {ips:?} -> {now:?}")),
            }
        }
        result.duplicates = duplicates(&handles).await?;
        report.rounds.push(result);

        alive = kept_alive;
        alive.extend(created);
        broken = to_break;
    }
    watch.abort();
    let observer = observer.lock().unwrap_or_else(PoisonError::into_inner);
    report.changes = observer.changes.clone();
    report.transient_duplicates = observer.duplicates.clone();
    drop(controller);
    Ok(report)
}

/// Addresses held against the rules now (by any Service of the namespace, ours or not).
async fn duplicates(handles: &Cluster) -> Result<Vec<String>> {
    let list = handles.services.list(&Default::default()).await?;
    let mut observer = Observer::default();
    for service in &list.items {
        observer.applied(service, &handles.class);
    }
    let mut problems = observer.duplicates;
    problems.sort();
    problems.dedup();
    if problems.len() > 100 {
        bail!("{} duplicate addresses", problems.len());
    }
    Ok(problems)
}
