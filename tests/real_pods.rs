//! The charm's workloads as real pods: three real nodes (containerd, kubelet and kube-proxy of
//! the control plane's release, in network namespaces), our image archives imported into them,
//! and the packed charm deployed through `juju-sim` with those images as its resources. Nothing
//! here starts a controller or a speaker by hand: kubelet runs exactly what the charm renders.
//!
//! One scenario in steps (each starts from what the previous left), because a real lab takes
//! about half a minute to start: deploy and serve, securityContext in the runtime's view, speaker
//! failover by `kubectl delete pod`, refresh with a new image tag, node-selector, and a wrong
//! image resource.
//!
//! Needs root, `METALLB_RS_CLUSTER_BIN` (with the node binaries), `METALLB_RS_CHARM_FILE` and
//! `METALLB_RS_IMAGES_DIR`, as `cargo xtask test` provides.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::core::v1::{Node, Service};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use serde_json::{Value, json};
use test_support::netlab;
use test_support::scenario;
use test_support::{report_durations, wait_for};

mod pods_support;
use pods_support::{
    CONTROLLER_REPO, IPRANGE, NAMESPACE, NODES, PodLab, SPEAKER_REPO, WAIT, component,
    container_image, env_path, running, service,
};

/// Failover trials (each deletes the announcing speaker's pod).
const TRIALS: usize = 3;

/// Step 1: the charm deployed with our images as resources; real pods become ready.
async fn deploy_and_serve(lab: &PodLab) -> Result<String> {
    let started = Instant::now();
    lab.deploy_charm(&[&format!("iprange={IPRANGE}")])?;
    let pods = lab.wait_workloads(scenario::IMAGE_TAG, NODES.len()).await?;
    let message = lab.wait_status("active").await?;
    println!(
        "deployed: workloads ready and the charm active in {:.1} s ({message})",
        started.elapsed().as_secs_f64()
    );
    let table = lab.kubectl(&["get", "pods", "-n", NAMESPACE, "-o", "wide"])?;
    println!("{table}");
    for line in table.lines().skip(1) {
        let columns: Vec<&str> = line.split_whitespace().collect();
        ensure!(
            columns.get(1) == Some(&"1/1") && columns.get(2) == Some(&"Running"),
            "a pod is not READY 1/1 and Running: {line}"
        );
    }
    // The speakers run on the nodes' own addresses (hostNetwork, kubelet --node-ip).
    for pod in pods.iter().filter(|p| component(p) == "speaker") {
        let status = pod.status.clone().unwrap_or_default();
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default();
        let host = lab
            .network
            .node(&node)
            .context("speaker on an unknown node")?;
        ensure!(
            status.pod_ip.as_deref() == Some(host.ipv4.to_string().as_str()),
            "speaker on {node} has pod IP {:?}, not the node's {}",
            status.pod_ip,
            host.ipv4
        );
    }
    let controller_pod = pods
        .iter()
        .find(|p| component(p) == "controller")
        .context("no controller pod")?;
    let pod_ip = controller_pod
        .status
        .as_ref()
        .and_then(|s| s.pod_ip.clone())
        .unwrap_or_default();
    ensure!(
        pod_ip.starts_with("198.19.2"),
        "the controller is not on the pod network: {pod_ip}"
    );
    // Clean starts: nothing at error level, no panic (a watch relisting after an expired
    // resource version is logged as a warning and is normal).
    for pod in &pods {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let logs = lab.kubectl(&["logs", "-n", NAMESPACE, &name])?;
        ensure!(!logs.trim().is_empty(), "{name} logged nothing");
        let bad: Vec<&str> = logs
            .lines()
            .filter(|l| l.contains("ERROR") || l.contains("panicked"))
            .collect();
        ensure!(
            bad.is_empty(),
            "{name} did not start cleanly:\n{}",
            bad.join("\n")
        );
        println!(
            "kubectl logs {name} (first lines):\n{}",
            logs.lines().take(3).collect::<Vec<_>>().join("\n")
        );
    }
    let ip = service(lab, "hello").await?;
    let node = lab.announcer("hello", None).await?;
    let macs = netlab::arping(&lab.network, &ip)?;
    ensure!(
        macs.iter().any(|l| l.contains(&lab.mac_of(&node))),
        "arping {ip} was not answered by {node}: {macs:?}"
    );
    let body = netlab::curl(&lab.network, &ip)?;
    ensure!(
        body == node,
        "curl http://{ip}/ answered {body:?}, not {node}"
    );
    println!("default/hello at {ip}, announced by {node}; curl from the client: {body}");
    Ok(ip)
}

/// The TCP MD5 password of the step's router, from a Juju secret.
const MD5_PASSWORD: &str = "md5-lab-s3cret";

/// Step 3b: a related Prometheus gets targets that answer `/metrics`, and a BGP session with a
/// password from a granted Juju secret comes up (FRR checks the MD5 signature); the password
/// shows nowhere.
async fn observability_and_bgp_password(lab: &PodLab, ip: &str) -> Result<()> {
    lab.sim(&["integrate", "metrics-endpoint", "prometheus"])?;
    let data: Value = serde_json::from_str(&lab.sim(&[
        "relation-data",
        "metrics-endpoint",
        "--format",
        "json",
    ])?)?;
    let jobs: Value = serde_json::from_str(
        data["application-data"]["scrape_jobs"]
            .as_str()
            .context("no scrape_jobs published")?,
    )?;
    let mut targets: Vec<(String, String)> = Vec::new();
    for job in jobs.as_array().into_iter().flatten() {
        for config in job["static_configs"].as_array().into_iter().flatten() {
            let component = config["labels"]["metallb_component"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            for target in config["targets"].as_array().into_iter().flatten() {
                targets.push((
                    component.clone(),
                    target.as_str().unwrap_or_default().into(),
                ));
            }
        }
    }
    let speakers = targets.iter().filter(|(c, _)| c == "speaker").count();
    ensure!(
        speakers == NODES.len() && targets.iter().any(|(c, _)| c == "controller"),
        "expected the controller and {} speakers: {targets:?}",
        NODES.len()
    );
    // Speakers answer on the nodes' addresses (from the client); the controller on the pod
    // network (from the node it runs on).
    let controller_node = lab
        .pods()
        .list(&ListParams::default().labels("component=controller"))
        .await?
        .items
        .iter()
        .find(|p| running(p))
        .and_then(|p| p.spec.as_ref()?.node_name.clone())
        .context("no running controller")?;
    for (component, target) in &targets {
        let netns = match component.as_str() {
            "controller" => lab
                .network
                .node(&controller_node)
                .context("controller on an unknown node")?
                .netns
                .clone(),
            _ => lab.network.client.netns.clone(),
        };
        let url = format!("http://{target}/metrics");
        let body = wait_for(&format!("{url} to answer"), WAIT, || async {
            let out = netlab::netns_exec(&netns, &["curl", "-s", "--max-time", "2", &url])?;
            let body = String::from_utf8_lossy(&out.stdout).into_owned();
            Ok(body.contains("# TYPE metallb_").then_some(body))
        })
        .await?;
        let families = body.lines().filter(|l| l.starts_with("# TYPE")).count();
        println!("{component} target {target} answers /metrics ({families} families)");
    }

    // BGP with a password only a granted secret holds.
    let client = &lab.network.client;
    let neighbors: String = lab
        .network
        .nodes
        .iter()
        .map(|n| {
            format!(
                " neighbor {0} remote-as 64512\n neighbor {0} password {MD5_PASSWORD}\n",
                n.ipv4
            )
        })
        .collect();
    let frr = netlab::Frr::start(
        &client.netns,
        &netlab::FrrBgp {
            hostname: "md5-router",
            asn: 64513,
            router_id: client.ipv4.to_string(),
            neighbors,
            ..netlab::FrrBgp::default()
        }
        .render(),
    )?;
    let uri = lab.sim(&[
        "add-secret",
        "router-md5",
        &format!("password={MD5_PASSWORD}"),
    ])?;
    let uri = uri.trim();
    lab.sim(&["grant-secret", "router-md5", "metallb"])?;
    let peers = format!("bgp-peers={}:64513 password={uri}", client.ipv4);
    lab.sim(&["config", "bgp-asn=64512", &peers])?;
    let prefix = format!("{ip}/32");
    let paths = wait_for(
        &format!("{} MD5-signed BGP paths to {prefix}", NODES.len()),
        WAIT,
        || async {
            let paths = frr.paths(&prefix)?;
            Ok((paths.len() == NODES.len()).then_some(paths.len()))
        },
    )
    .await
    .with_context(|| frr.vtysh("show bgp summary").unwrap_or_default())?;
    println!("FRR learnt {paths} paths to {prefix} over MD5-signed sessions");
    for shown in [
        lab.sim(&["debug-log"])?,
        lab.sim(&["status", "--format", "json"])?,
        lab.sim(&["config"])?,
        lab.kubectl(&["get", "bgppeers", "-n", NAMESPACE, "-o", "yaml"])?,
    ] {
        ensure!(!shown.contains(MD5_PASSWORD), "the password shows: {shown}");
    }
    lab.sim(&["config", "bgp-asn=0", "bgp-peers="])?;
    lab.sim(&["remove-relation", "metrics-endpoint"])?;
    drop(frr);
    Ok(())
}

/// Step 2: what the runtime runs matches the rendered securityContext.
fn security_context(lab: &PodLab) -> Result<()> {
    for node in NODES {
        let list = lab.nodes.ctr(node, &["containers", "ls", "-q"])?;
        for id in list.split_whitespace() {
            let info: Value =
                serde_json::from_str(&lab.nodes.ctr(node, &["containers", "info", id])?)?;
            let labels = &info["Labels"];
            let name = labels["io.kubernetes.container.name"]
                .as_str()
                .unwrap_or("");
            if name != "controller" && name != "speaker" {
                continue;
            }
            let spec = &info["Spec"];
            let uid = spec["process"]["user"]["uid"].as_u64();
            let caps = |set: &str| -> Vec<String> {
                spec["process"]["capabilities"][set]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|c| c.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let readonly = spec["root"]["readonly"].as_bool() == Some(true);
            let no_new_privs = spec["process"]["noNewPrivileges"].as_bool() == Some(true);
            println!(
                "{node} {name}: uid {uid:?}, effective {:?}, bounding {:?}, read-only root {readonly}, no_new_privs {no_new_privs}",
                caps("effective"),
                caps("bounding")
            );
            ensure!(readonly, "{name} on {node}: root file system is writable");
            ensure!(
                no_new_privs,
                "{name} on {node}: privilege escalation allowed"
            );
            match name {
                "controller" => {
                    ensure!(uid == Some(65534), "controller runs as {uid:?}");
                    ensure!(
                        caps("bounding").is_empty() && caps("effective").is_empty(),
                        "controller has capabilities"
                    );
                }
                _ => {
                    ensure!(
                        caps("bounding") == ["CAP_NET_RAW"] && caps("effective") == ["CAP_NET_RAW"],
                        "speaker capabilities are not exactly NET_RAW"
                    );
                }
            }
        }
    }
    Ok(())
}

/// Step 3: deleting the announcing speaker's pod moves the address; the DaemonSet recreates it.
async fn speaker_failover(lab: &PodLab, ip: &str) -> Result<()> {
    let address: IpAddr = ip.parse()?;
    let mut samples = Vec::new();
    for trial in 0..TRIALS {
        let node = lab.announcer("hello", None).await?;
        // The client must be talking to the announcer before the delete.
        netlab::first_reply_from(&lab.network, address, &node, Instant::now(), WAIT)?;
        let pods = lab
            .pods()
            .list(&ListParams::default().labels("component=speaker"))
            .await?;
        let pod = pods
            .items
            .iter()
            .find(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node.as_str()))
            .and_then(|p| p.metadata.name.clone())
            .context("no speaker pod on the announcing node")?;
        let started = Instant::now();
        lab.pods().delete(&pod, &DeleteParams::default()).await?;
        let others: Vec<&str> = NODES.iter().copied().filter(|n| *n != node).collect();
        let network = &lab.network;
        let elapsed = loop {
            // The first answer from another node, as in the failover benchmark.
            if let Ok(answer) = netlab::in_netns(&network.client.netns, move || {
                netlab::http_get((address, 80).into(), Duration::from_millis(200))
            })? && others.contains(&answer.as_str())
            {
                break started.elapsed();
            }
            ensure!(
                started.elapsed() < WAIT,
                "no other node answered after deleting {pod}"
            );
        };
        println!("trial {trial}: {pod} on {node} deleted, another node answered after {elapsed:?}");
        samples.push(elapsed);
        lab.wait_workloads(scenario::IMAGE_TAG, NODES.len()).await?;
    }
    report_durations(
        "speaker pod deleted -> first reply from another node",
        samples,
    );
    Ok(())
}

/// Step 4: a refresh with images of another tag rolls the pods; the address stays, the client
/// keeps being served, and there is never more than one controller (checked at the end of the
/// scenario: returned as a deferred failure so that the later steps still run).
async fn refresh_new_tag(lab: &PodLab, ip: &str) -> Result<Option<String>> {
    let images = env_path("METALLB_RS_IMAGES_DIR");
    lab.nodes.import(
        &images.join("controller.oci.tar"),
        CONTROLLER_REPO,
        Some(&format!("{CONTROLLER_REPO}:next")),
    )?;
    lab.nodes.import(
        &images.join("speaker.oci.tar"),
        SPEAKER_REPO,
        Some(&format!("{SPEAKER_REPO}:next")),
    )?;
    let address: IpAddr = ip.parse()?;
    // Watch the client's view and the controllers while the pods roll.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let client_ns = lab.network.client.netns.clone();
    let prober = std::thread::spawn(move || -> Result<(u32, u32, Duration)> {
        netlab::enter(&client_ns)?;
        let (mut ok, mut failed, mut gap) = (0u32, 0u32, Duration::ZERO);
        let mut last_ok = Instant::now();
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            match netlab::http_get((address, 80).into(), Duration::from_millis(200)) {
                Ok(_) => {
                    ok += 1;
                    gap = gap.max(last_ok.elapsed());
                    last_ok = Instant::now();
                }
                Err(_) => failed += 1,
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok((ok, failed, gap))
    });
    // Count the running controllers from before the refresh until the pods have rolled.
    let watching = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let counter = {
        let pods = lab.pods();
        let watching = watching.clone();
        tokio::spawn(async move {
            let mut most = 0;
            while watching.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(list) = pods
                    .list(&ListParams::default().labels("component=controller"))
                    .await
                {
                    let running = list.items.iter().filter(|p| running(p)).count();
                    most = most.max(running);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            most
        })
    };
    let started = Instant::now();
    lab.sim(&[
        "refresh",
        &lab.charm(),
        "--resource",
        &format!("controller-image={CONTROLLER_REPO}:next"),
        "--resource",
        &format!("speaker-image={SPEAKER_REPO}:next"),
    ])?;
    let deadline = Instant::now() + WAIT;
    loop {
        let all = lab.pods().list(&ListParams::default()).await?.items;
        let rolled = all.len() == NODES.len() + 1
            && all.iter().all(|p| container_image(p).ends_with(":next"))
            && all.iter().all(|p| {
                p.status.as_ref().is_some_and(|s| {
                    s.conditions
                        .as_ref()
                        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
                })
            });
        if rolled {
            break;
        }
        ensure!(Instant::now() < deadline, "the pods did not roll to :next");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    watching.store(false, std::sync::atomic::Ordering::Relaxed);
    let most_controllers = counter.await?;
    let rolled_in = started.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (ok, failed, gap) = prober
        .join()
        .map_err(|_| anyhow::anyhow!("the prober panicked"))??;
    let services: Api<Service> = Api::namespaced(lab.client.clone(), "default");
    let now = services
        .get("hello")
        .await?
        .status
        .and_then(|s| s.load_balancer)
        .and_then(|lb| lb.ingress)
        .and_then(|i| i.into_iter().find_map(|i| i.ip));
    println!(
        "refresh to :next rolled in {:.1} s; the client got {ok} answers, {failed} failures, longest gap {gap:?}; at most {most_controllers} controller(s) running at once",
        rolled_in.as_secs_f64()
    );
    ensure!(now.as_deref() == Some(ip), "the address moved: {now:?}");
    ensure!(
        gap < Duration::from_secs(5),
        "the client was not served for {gap:?}"
    );
    lab.wait_status("active").await?;
    Ok((most_controllers > 1).then(|| {
        format!("{most_controllers} controllers ran at once during the refresh (the Deployment must not surge)")
    }))
}

/// Step 5: a node-selector that leaves one node out moves the speakers (and the address) off it.
async fn node_selector(lab: &PodLab, ip: &str) -> Result<()> {
    let nodes: Api<Node> = Api::all(lab.client.clone());
    let announcer = lab.announcer("hello", None).await?;
    for node in NODES.iter().filter(|n| **n != announcer) {
        nodes
            .patch(
                node,
                &PatchParams::default(),
                &Patch::Merge(&json!({"metadata": {"labels": {"metallb.test/speaker": "yes"}}})),
            )
            .await?;
    }
    lab.sim(&["config", "node-selector=metallb.test/speaker=yes"])?;
    lab.wait_workloads("next", NODES.len() - 1).await?;
    let moved = lab.announcer("hello", Some(&announcer)).await?;
    let body = netlab::first_reply_from(&lab.network, ip.parse()?, &moved, Instant::now(), WAIT);
    ensure!(body.is_ok(), "{moved} does not serve {ip}: {body:?}");
    let pods = lab
        .pods()
        .list(&ListParams::default().labels("component=speaker"))
        .await?;
    ensure!(
        pods.items
            .iter()
            .all(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref())
                != Some(announcer.as_str())),
        "a speaker is still on {announcer}"
    );
    println!("node-selector: speakers left {announcer}; {ip} moved to {moved}");
    lab.sim(&["config", "--reset", "node-selector"])?;
    lab.wait_workloads("next", NODES.len()).await?;
    Ok(())
}

/// Step 6: an image no node has: the pod waits with an image reason, and the charm reports
/// `waiting` naming it (returned as a deferred failure: that message is the charm's).
async fn wrong_image(lab: &PodLab) -> Result<Option<String>> {
    lab.sim(&[
        "refresh",
        &lab.charm(),
        "--resource",
        &format!("controller-image={CONTROLLER_REPO}:absent"),
    ])?;
    let reason = wait_for("the controller pod's waiting reason", WAIT, || async {
        let pods = lab
            .pods()
            .list(&ListParams::default().labels("component=controller"))
            .await?;
        Ok(pods.items.iter().find_map(|p| {
            let status = p
                .status
                .as_ref()?
                .container_statuses
                .as_ref()?
                .first()?
                .clone();
            let reason = status.state?.waiting?.reason?;
            (container_image(p).ends_with(":absent") && reason.contains("Image")).then_some(reason)
        }))
    })
    .await?;
    println!("wrong image: the controller pod waits with {reason}");
    let seen = wait_for(
        "the charm to be waiting",
        Duration::from_secs(30),
        || async {
            lab.sim(&["update-status"])?;
            let (status, message) = lab.status()?;
            Ok((status == "waiting"
                && (message.contains("ImagePullBackOff")
                    || message.contains("ErrImagePull")
                    || message.contains("ErrImageNeverPull")))
            .then_some(message))
        },
    )
    .await;
    let (status, message) = lab.status()?;
    println!("wrong image: the charm says {status}: {message}");
    Ok(seen.is_err().then(|| {
        format!("with the controller pod waiting on {reason}, the charm says {status}: {message:?} (it should be waiting and name the pod's reason)")
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root and the control plane: cargo xtask test"]
async fn the_charm_runs_real_pods() {
    assert!(
        netlab::available(),
        "this test needs root and iproute2 (run it with `cargo xtask test`)"
    );
    let started = Instant::now();
    let lab = match PodLab::start("rp", &[]).await {
        Ok(lab) => lab,
        Err(err) => panic!("cannot start the lab: {err:#}"),
    };
    println!(
        "lab with real nodes up in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let result = async {
        let ip = deploy_and_serve(&lab).await.context("deploy")?;
        security_context(&lab).context("securityContext")?;
        for node in NODES {
            let (rss, usage) = lab.nodes.memory(node)?;
            println!(
                "memory of {node} (containerd, kubelet, kube-proxy, pods): RSS {:.1} MiB, charged {:.1} MiB",
                rss as f64 / 1048576.0,
                usage as f64 / 1048576.0
            );
        }
        speaker_failover(&lab, &ip).await.context("failover")?;
        observability_and_bgp_password(&lab, &ip)
            .await
            .context("observability and BGP password")?;
        let mut deferred = Vec::new();
        deferred.extend(refresh_new_tag(&lab, &ip).await.context("refresh")?);
        node_selector(&lab, &ip).await.context("node-selector")?;
        deferred.extend(wrong_image(&lab).await.context("wrong image")?);
        ensure!(deferred.is_empty(), "{}", deferred.join("\n"));
        Ok::<(), anyhow::Error>(())
    }
    .await;
    if let Err(err) = result {
        panic!("{err:#}\n\n{}", lab.diagnostics());
    }
    println!(
        "real-pod scenario done in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
