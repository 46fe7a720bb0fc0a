//! Wakes the speaker when a link or an address changes (carrier lost or back, an interface up or
//! down, an address added or removed): a netlink route socket subscribed to the link and
//! address groups. The messages are not parsed; each one only asks for a fresh interface scan,
//! so a lost carrier moves an address within milliseconds instead of at the next periodic scan.

use anyhow::{Context, Result};
use netlink_sys::{AsyncSocket, AsyncSocketExt, SocketAddr, TokioSocket, protocols::NETLINK_ROUTE};
use tokio::sync::mpsc;

/// `RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR` (linux/rtnetlink.h).
const GROUPS: u32 = 0x1 | 0x10 | 0x100;

/// Subscribes to link and address changes of this network namespace; each batch of changes
/// sends one `()` on the returned channel. The task ends (and the channel closes) when the
/// socket fails.
pub fn spawn() -> Result<mpsc::Receiver<()>> {
    let mut socket =
        TokioSocket::new(NETLINK_ROUTE).context("cannot open a netlink route socket")?;
    socket
        .socket_mut()
        .bind(&SocketAddr::new(0, GROUPS))
        .context("cannot subscribe to link and address changes")?;
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        loop {
            match socket.recv_from_full().await {
                Ok(_) => {
                    // A full channel already holds a wake-up: changes coalesce.
                    if tx.try_send(()).is_err() && tx.is_closed() {
                        return;
                    }
                }
                Err(err) => {
                    tracing::warn!("link change notifications stopped: {err}");
                    return;
                }
            }
        }
    });
    Ok(rx)
}
