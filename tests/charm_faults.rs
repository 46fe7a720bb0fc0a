//! The charm through an outage of the whole control plane (API server and etcd stopped as a
//! crash would, then started again on the same data): hooks during the outage say so and
//! succeed (Juju would otherwise retry them forever), and the work resumes afterwards.

mod charm_support;

use anyhow::{Result, bail};
use charm_support::{Deployed, WAIT, pool_addresses};
use test_support::{Cluster, wait_for};

#[tokio::test]
#[ignore = "needs the control plane and the packed charm: cargo xtask test"]
async fn hooks_during_a_control_plane_outage_wait_and_the_work_resumes() -> Result<()> {
    let mut cluster = Cluster::start_restartable()?;
    let mut d = Deployed::new();
    d.kubeconfig = Some(cluster.kubeconfig().to_path_buf());
    let client = cluster.client().await?;
    d.nodes_in(&client).await?;
    d.deploy(true, &[]);
    d.wait_active().await?;

    let (during, took) = cluster.restart(|| {
        d.ok(&["config", "iprange=198.18.100.16/28"]);
        let after_config = d.status();
        d.ok(&["update-status"]);
        (after_config, d.status())
    })?;
    println!("control plane restarted in {} ms", took.as_millis());
    for (status, message) in [&during.0, &during.1] {
        if status != "waiting" || !message.starts_with("will retry") {
            bail!("during the outage the charm said {status}: {message}");
        }
    }

    // Back: the change made during the outage is applied and the charm is active again.
    d.wait_active().await?;
    let client = cluster.client().await?;
    wait_for("the pool to carry the new range", WAIT, || async {
        let addresses = pool_addresses(&client, &d).await?;
        Ok((addresses == serde_json::json!(["198.18.100.16/28"])).then_some(()))
    })
    .await?;
    println!("faults: api-outage-during-hooks tried=1 held=1");
    d.ok(&["remove"]);
    Ok(())
}
