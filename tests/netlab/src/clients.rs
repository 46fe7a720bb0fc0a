//! Real clients in the client namespace: `arping`, `ndisc6`, `curl`, and a plain HTTP GET.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::namespace::{enter, in_netns};
use crate::network::Network;

/// One HTTP GET of `path` at `addr:port` from namespace `ns`; the body, or an error.
pub fn http_get_from(
    ns: &str,
    addr: IpAddr,
    port: u16,
    path: &str,
    timeout: Duration,
) -> Result<String> {
    let path = path.to_string();
    in_netns(ns, move || {
        http_get_path(SocketAddr::new(addr, port), &path, timeout)
    })?
}

/// One HTTP GET of `/` at `target` from the calling thread's namespace.
pub fn http_get(target: SocketAddr, timeout: Duration) -> Result<String> {
    http_get_path(target, "/", timeout)
}

/// One HTTP GET of `path` at `target` from the calling thread's namespace; errs unless the
/// answer is 200 OK.
pub fn http_get_path(target: SocketAddr, path: &str, timeout: Duration) -> Result<String> {
    let (status, body) = http_get_any(target, path, timeout)?;
    if status.starts_with("HTTP/1.1 200") {
        Ok(body)
    } else {
        bail!("unexpected answer from {target}{path}: {status:?}");
    }
}

/// One HTTP GET of `path` at `target`: the status line and the body, whatever the status.
pub fn http_get_any(target: SocketAddr, path: &str, timeout: Duration) -> Result<(String, String)> {
    let mut stream = TcpStream::connect_timeout(&target, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(
        format!("GET {path} HTTP/1.1\r\nhost: {target}\r\nconnection: close\r\n\r\n").as_bytes(),
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    match response.split_once("\r\n\r\n") {
        Some((head, body)) => Ok((
            head.lines().next().unwrap_or_default().to_string(),
            body.to_string(),
        )),
        None => bail!("unexpected response from {target}: {response:?}"),
    }
}

/// MACs (lowercase) that answered `arping` for `ip` from the client, one per reply.
pub fn arping(network: &Network, ip: &str) -> Result<Vec<String>> {
    arping_on(network, "eth0", ip)
}

/// [`arping`] from the client's interface `interface`.
pub fn arping_on(network: &Network, interface: &str, ip: &str) -> Result<Vec<String>> {
    let output = Command::new("ip")
        .args(["netns", "exec", &network.client.netns])
        .args(["arping", "-c", "3", "-W", "0.2", "-r", "-i", interface, ip])
        .output()
        .context("cannot run arping (is the arping package installed?)")?;
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| l.trim().to_lowercase())
        .filter(|l| !l.is_empty())
        .collect())
}

/// MACs (lowercase) in the `ndisc6` answers for `ip` from the client.
pub fn ndisc6(network: &Network, ip: &str) -> Result<Vec<String>> {
    let output = Command::new("ip")
        .args(["netns", "exec", &network.client.netns])
        .args(["ndisc6", "-m", "-n", "-r", "2", "-w", "500", ip, "eth0"])
        .output()
        .context("cannot run ndisc6 (is the ndisc6 package installed?)")?;
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| l.split_once("Target link-layer address:"))
        .map(|(_, mac)| mac.trim().to_lowercase())
        .collect())
}

/// `curl` from the client to `http://ip/`: the body.
pub fn curl(network: &Network, ip: &str) -> Result<String> {
    let url = if ip.contains(':') {
        format!("http://[{ip}]/")
    } else {
        format!("http://{ip}/")
    };
    let output = Command::new("ip")
        .args(["netns", "exec", &network.client.netns])
        .args(["curl", "-sS", "-g", "--max-time", "2", &url])
        .output()
        .context("cannot run curl")?;
    if !output.status.success() {
        bail!(
            "curl {url}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// Sends HTTP requests from the client to `ip` (port 80) back to back, each with a 200 ms
/// timeout, until one is answered with `body`; returns the time since `since`. Fails after
/// `timeout`.
pub fn first_reply_from(
    network: &Network,
    ip: IpAddr,
    body: &str,
    since: Instant,
    timeout: Duration,
) -> Result<Duration> {
    let body = body.to_string();
    in_netns(&network.client.netns, move || -> Result<Duration> {
        loop {
            if let Ok(answer) = http_get((ip, 80).into(), Duration::from_millis(200))
                && answer == body
            {
                return Ok(since.elapsed());
            }
            if since.elapsed() > timeout {
                bail!("no reply from {body} within {timeout:?}");
            }
        }
    })?
}

/// A client that sends HTTP GETs from the client namespace to one address back to back (each
/// with a 200 ms timeout, a new connection each) until stopped, and reports what it saw.
pub struct TrafficProbe {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    answered: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    handle: std::thread::JoinHandle<std::io::Result<TrafficReport>>,
}

/// What a [`TrafficProbe`] saw.
#[derive(Debug, Clone, Default)]
pub struct TrafficReport {
    /// Requests answered with 200 OK.
    pub answered: usize,
    /// Requests that failed or timed out.
    pub failed: usize,
    /// The longest time between two answered requests (the traffic gap), and when it began
    /// (time since the probe started).
    pub longest_gap: Duration,
    /// When the longest gap began, counted from the probe's start.
    pub gap_started_after: Duration,
    /// The bodies answered, in order, without repeats (which node served).
    pub served_by: Vec<String>,
}

impl TrafficProbe {
    /// Starts polling `http://ip:80/` from `network`'s client namespace.
    pub fn start(network: &Network, ip: IpAddr) -> Self {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = answered.clone();
        let handle = std::thread::spawn({
            let ns = network.client.netns.clone();
            move || -> std::io::Result<TrafficReport> {
                enter(&ns)?;
                let started = Instant::now();
                let mut report = TrafficReport::default();
                let mut last_answer = started;
                while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                    match http_get((ip, 80).into(), Duration::from_millis(200)) {
                        Ok(body) => {
                            let now = Instant::now();
                            let gap = now - last_answer;
                            if gap > report.longest_gap {
                                report.longest_gap = gap;
                                report.gap_started_after = last_answer - started;
                            }
                            last_answer = now;
                            report.answered += 1;
                            count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            if report.served_by.last() != Some(&body) {
                                report.served_by.push(body);
                            }
                        }
                        Err(_) => report.failed += 1,
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                Ok(report)
            }
        });
        TrafficProbe {
            stop,
            answered,
            handle,
        }
    }

    /// How many requests were answered so far.
    pub fn answered(&self) -> usize {
        self.answered.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Stops the probe and returns what it saw.
    pub fn stop(self) -> Result<TrafficReport> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.handle
            .join()
            .map_err(|_| anyhow::anyhow!("the traffic probe panicked"))?
            .context("cannot enter the client namespace")
    }
}

/// The ARP frames about `ip` seen on the client's `interface` for `duration`, as `tcpdump`
/// prints them (one line each, e.g. `Request who-has 198.18.100.41 tell 198.18.100.41`).
pub fn capture_arp(
    network: &Network,
    interface: &str,
    ip: &str,
    duration: Duration,
) -> Result<Vec<String>> {
    let seconds = format!("{}", duration.as_secs_f64());
    let filter = format!("arp and host {ip}");
    // `timeout` ends tcpdump with a non-zero status: read what it printed either way.
    let output = Command::new("ip")
        .args(["netns", "exec", &network.client.netns, "timeout", &seconds])
        .args(["tcpdump", "-i", interface, "-nn", "-l", "-e", &filter])
        .output()
        .context("cannot run tcpdump")?;
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect())
}
