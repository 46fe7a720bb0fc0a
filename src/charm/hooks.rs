//! The charm's entry points as Juju calls them: every event handled by one reconcile path (or
//! an action, a removal, update-status's reads), and the status decided from what it found.

use anyhow::Result;
use juju_ops::{Charm, Context, Event, Status, StatusCollector};

use super::*;
use crate::cos::{DASHBOARD_ENDPOINT, METRICS_ENDPOINT};

impl Charm for MetallbCharm {
    fn handle(&mut self, ctx: &Context<'_>, event: &Event) -> Result<()> {
        // The version shown is the charm's own: it changes only with the charm.
        if matches!(event, Event::Install | Event::UpgradeCharm) {
            ctx.set_workload_version(env!("CARGO_PKG_VERSION"))?;
        }
        let outcome = match event {
            Event::Action { name, .. } => return crate::actions::run(self, ctx, name),
            Event::Remove => self.remove(ctx),
            Event::Stop => return Ok(()),
            _ => {
                // A leader publishes on both endpoints after its API work: the agent reads
                // their relations meanwhile.
                let published: &[&str] = if ctx.is_leader()? {
                    &[METRICS_ENDPOINT, DASHBOARD_ENDPOINT]
                } else {
                    &[]
                };
                ctx.reading_relations_alongside(published, || match event {
                    Event::UpdateStatus => self.update_status(ctx),
                    _ => self.reconcile(ctx, Adopt::No, Writes::Changed),
                })
            }
        };
        if let Ok(outcome) = &outcome
            && !matches!(event, Event::Remove)
        {
            self.publish(ctx, *outcome != Outcome::Standby)?;
        }
        tracing::debug!(
            "{} Kubernetes API requests ({} writes, {} ms, {} answered over HTTP/2)",
            self.requests.total(),
            self.requests.writes(),
            self.requests.time().as_millis(),
            self.requests.over_http2()
        );
        self.outcome = Some(outcome?);
        Ok(())
    }

    fn collect_status(&mut self, ctx: &Context<'_>, statuses: &mut StatusCollector) -> Result<()> {
        let Some(outcome) = &self.outcome else {
            return Ok(());
        };
        let status = match outcome {
            Outcome::Standby => Status::active("standby: the leader unit manages MetalLB"),
            Outcome::BadConfig(problem) => Status::blocked(problem.to_string()),
            Outcome::NeedsTrust(_) => Status::blocked(format!(
                "needs access to the cluster: run `juju trust {} --scope=cluster`",
                ctx.app_name()
            )),
            Outcome::Refused(message) => Status::blocked(message.clone()),
            Outcome::Conflicts(conflicts) => {
                Status::blocked(conflict_message(conflicts, ctx.unit_name()))
            }
            Outcome::ApiError(message) => Status::waiting(format!("will retry: {message}")),
            Outcome::Applied {
                blocker: Some(problem),
                ..
            } => Status::blocked(problem.clone()),
            Outcome::Applied {
                readiness,
                pool,
                size,
                in_use,
                bgp,
                warnings,
                ..
            } if readiness.ready() => {
                let plural = if *size == 1 { "" } else { "es" };
                let mut message = format!("{size} address{plural} ({pool}), {in_use} in use");
                if let Some((routers, advertising)) = bgp {
                    message.push_str(&bgp_summary(*routers, advertising));
                }
                message.push_str(&warnings_summary(warnings));
                Status::active(message)
            }
            Outcome::Applied { readiness, .. } => {
                let mut message = format!(
                    "controller {}/{} ready, speaker {}/{} ready",
                    readiness.controller.0,
                    readiness.controller.1,
                    readiness.speaker.0,
                    readiness.speaker.1
                );
                if let Some(problem) = readiness.problems.first() {
                    message.push_str(&format!("; {problem}"));
                    if readiness.problems.len() > 1 {
                        message.push_str(&format!(" (and {} more)", readiness.problems.len() - 1));
                    }
                }
                Status::waiting(message)
            }
            Outcome::Removed => Status::maintenance("removed MetalLB from the cluster"),
            Outcome::UnitLeaving => {
                Status::maintenance("unit leaving; the application and MetalLB stay")
            }
        };
        statuses.add_app(status.clone());
        statuses.add_unit(status);
        Ok(())
    }
}
