//! `ais-cfgtool`: link and node status, configuration reload, log reopening, killing a node
//! and shutting the local daemon down, with the flags, the output and the messages of
//! corosync 3.1.7's `corosync-cfgtool`, byte for byte, so scripts that parse it keep
//! working. `-H` prints "Shutting down corosync", as corosync does, for the same reason.
//!
//! Like corosync, `-s` and `-n` list the nodes of cmap's `nodelist.node.*.nodeid` in node
//! id order and ask cfg for each one's status; `-s` shows each link of another node as
//! this node sees it (corosync's choice, kept).
//!
//! Differences, all deliberate: `-i` filters `-s` to the link whose number or local
//! address is given, as the help text of both tools says (corosync 3.1.7 parses `-i` and
//! then ignores it); `-R` also prints the daemon's `config.reload_error_message` (with its
//! file:line diagnostics) as later corosync releases do, which 3.1.7 does not read; `-H`
//! exits 1 when the shutdown is refused (corosync prints the error and exits 0); a usage
//! error exits 2 (clap), not 1, and two actions at once are refused. `--json` (for `-s`,
//! `-n`, `-a` and `-R`) and `--veto-shutdown` (a client that refuses every `-H`) are ours.

use std::io::{self, Write};
use std::ops::ControlFlow;
use std::process::ExitCode;
use std::time::Duration;

use ais_client::cfg::{Cfg, CfgNodeStatus, Event, ShutdownFlags, ShutdownReply};
use ais_client::cmap::Cmap;
use ais_client::{Dispatch, Error, Options};
use ais_types::NodeId;
use ais_wire::ipc::CFG_LINKS_MAX;
use serde::Serialize;

use crate::cs;

/// How often `-H` retries a shutdown the daemon answers "try again", a second apart.
const SHUTDOWN_TRIES: u32 = 30;

/// Display and configure active parameters of the local node (corosync-cfgtool).
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "ais-cfgtool", version, about)]
#[command(group = clap::ArgGroup::new("action").multiple(false))]
pub struct CfgtoolArgs {
    /// With -s, only the link with this number or local IP address.
    #[arg(short = 'i', long = "if", value_name = "LINK")]
    pub interface: Option<String>,
    /// Display the status of the current links on this node.
    #[arg(short = 's', long = "status", group = "action")]
    pub status: bool,
    /// Display the status of the connected nodes and their links.
    #[arg(short = 'n', long = "nodes", group = "action")]
    pub nodes: bool,
    /// With -s, one status character per node (n: this node, 3: connected, 1: down).
    #[arg(short = 'b', long = "brief")]
    pub brief: bool,
    /// Tell every node of the cluster to reload corosync.conf.
    #[arg(short = 'R', long = "reload", group = "action")]
    pub reload: bool,
    /// Tell the daemon to reopen its log files.
    #[arg(short = 'L', long = "reopen", group = "action")]
    pub reopen: bool,
    /// Kill the node with this id.
    #[arg(short = 'k', long = "kill", value_name = "NODEID", group = "action")]
    pub kill: Option<String>,
    /// Display the IP address(es) of a node.
    #[arg(short = 'a', long = "address", value_name = "NODEID", group = "action")]
    pub address: Option<String>,
    /// Shut the daemon on this node down cleanly.
    #[arg(short = 'H', long = "shutdown", group = "action")]
    pub shutdown: bool,
    /// With -H, shut down whatever the tracking clients answer.
    #[arg(long)]
    pub force: bool,
    /// With -H, shut every node of the cluster down, each asking its own tracking clients
    /// (ours).
    #[arg(long, requires = "shutdown")]
    pub all: bool,
    /// Stay connected and answer "no" to every shutdown request until the daemon stops or
    /// this tool is killed: a client that vetoes `-H` (ours, for tests and drills).
    #[arg(long, group = "action")]
    pub veto_shutdown: bool,
    /// Prefix of the daemon's IPC names ("" is corosync's).
    #[arg(
        long,
        value_name = "PREFIX",
        env = "AIS_IPC_PREFIX",
        default_value = ""
    )]
    pub ipc_prefix: String,
    /// Machine-readable output for -s, -n, -a and -R: one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// What to do, from the flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// No action: print the help.
    Usage,
    /// `-s`.
    LinkStatus,
    /// `-n`.
    NodeStatus,
    /// `-R`.
    Reload,
    /// `-L`.
    ReopenLogs,
    /// `-k NODEID`.
    Kill(NodeId),
    /// `-a NODEID`.
    Addresses(NodeId),
    /// `-H`, with `--force` regardless of the tracking clients.
    Shutdown {
        /// `--force`.
        force: bool,
        /// `--all`: every node.
        all: bool,
    },
    /// `--veto-shutdown`.
    VetoShutdown,
}

impl Action {
    /// The action the flags ask for; an invalid node id gets corosync's message.
    pub fn from_args(args: &CfgtoolArgs) -> Result<Self, String> {
        let nodeid = |text: &str| {
            cs::strtonum(text, 1, u32::MAX.into())
                .map(|n| NodeId(n as u32))
                .ok_or_else(|| "The nodeid was not valid, try a positive number".to_owned())
        };
        Ok(if args.status {
            Self::LinkStatus
        } else if args.nodes {
            Self::NodeStatus
        } else if args.reload {
            Self::Reload
        } else if args.reopen {
            Self::ReopenLogs
        } else if let Some(text) = &args.kill {
            Self::Kill(nodeid(text)?)
        } else if let Some(text) = &args.address {
            Self::Addresses(nodeid(text)?)
        } else if args.shutdown {
            Self::Shutdown {
                force: args.force,
                all: args.all,
            }
        } else if args.veto_shutdown {
            Self::VetoShutdown
        } else {
            Self::Usage
        })
    }
}

/// What `-s` and `-n` print from: the node list of cmap and cfg's status of each node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// `totem.transport`, or "knet" (corosync's default).
    pub transport: String,
    /// This node.
    pub local: NodeId,
    /// Each link's transport name: "udp" for knet unless `totem.interface.N.knet_transport`
    /// says otherwise, "" for udp and udpu.
    pub link_transport: [String; CFG_LINKS_MAX],
    /// The nodes of the nodelist in node id order, each with its status or the cs_error
    /// number cfg answered.
    pub nodes: Vec<(NodeId, Result<CfgNodeStatus, i32>)>,
}

impl Report {
    /// corosync's transport number is knet unless the name is udpu or udp.
    pub fn knet(&self) -> bool {
        !matches!(self.transport.as_str(), "udpu" | "udp")
    }

    /// The index of this node in [`Self::nodes`] (0 if absent).
    fn local_index(&self) -> usize {
        self.nodes
            .iter()
            .rposition(|(n, _)| *n == self.local)
            .unwrap_or(0)
    }

    /// The index of the last other node (0 if none): corosync reads the links of any other
    /// node, since a node's link to itself says nothing about the cluster.
    fn other_index(&self) -> usize {
        self.nodes
            .iter()
            .rposition(|(n, _)| *n != self.local)
            .unwrap_or(0)
    }
}

/// `-s`'s options.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinkFormat {
    /// `-b`.
    pub brief: bool,
    /// `-i`: only the link with this number or local address.
    pub filter: Option<String>,
}

/// Runs the tool. Exit 0 on success, 1 (for `-L` and a failed `-R` the cs_error number)
/// as corosync-cfgtool would.
pub fn run(args: CfgtoolArgs) -> anyhow::Result<ExitCode> {
    let action = match Action::from_args(&args) {
        Ok(action) => action,
        Err(message) => {
            eprintln!("{message}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let options = Options::with_prefix(&args.ipc_prefix);
    let code = match action {
        Action::Usage => {
            use clap::CommandFactory;
            CfgtoolArgs::command().print_help()?;
            0
        }
        Action::LinkStatus | Action::NodeStatus => {
            let link_format = LinkFormat {
                brief: args.brief,
                filter: args.interface.clone(),
            };
            status(
                &options,
                action == Action::NodeStatus,
                &link_format,
                args.json,
            )
        }
        Action::Reload => reload(&options, args.json),
        Action::ReopenLogs => reopen_logs(&options),
        Action::Kill(nodeid) => kill(&options, nodeid),
        Action::Addresses(nodeid) => addresses(&options, nodeid, args.json),
        Action::Shutdown { force, all } => shutdown(&options, force, all),
        Action::VetoShutdown => veto_shutdown(&options),
    };
    Ok(ExitCode::from(code))
}

fn write_out(bytes: &[u8]) {
    let mut out = io::stdout().lock();
    let _ = out.write_all(bytes).and_then(|()| out.flush());
}

/// `Could not initialize corosync configuration API error N`, exit 1.
fn cfg_connect(options: &Options) -> Result<Cfg, u8> {
    Cfg::connect(options).map_err(|e| {
        eprintln!(
            "Could not initialize corosync configuration API error {}",
            cs::number(&e)
        );
        1
    })
}

/// `-s` and `-n`: corosync's `nodestatusget_do`.
fn status(options: &Options, nodes: bool, link_format: &LinkFormat, json: bool) -> u8 {
    let report = match gather(options) {
        Ok(report) => report,
        Err(code) => return code,
    };
    if !nodes {
        for (nodeid, status) in &report.nodes {
            if let Err(e) = status {
                eprintln!(
                    "Could not get the node status for nodeid {}, the error is: {e}",
                    nodeid.0 as i32
                );
            }
        }
    }
    let out = match (nodes, json) {
        (false, false) => links_text(&report, link_format),
        (true, false) => nodes_text(&report),
        (false, true) => links_json(&report, link_format),
        (true, true) => nodes_json(&report),
    };
    write_out(&out);
    0
}

/// Reads the transport, the node list and each node's status; errors are printed with
/// corosync's words and give the exit code.
fn gather(options: &Options) -> Result<Report, u8> {
    let mut cfg = cfg_connect(options)?;
    let mut cmap = Cmap::connect(options).map_err(|e| {
        eprintln!(
            "Could not initialize corosync cmap API error {}",
            cs::number(&e)
        );
        1
    })?;
    let transport = cmap
        .get_string("totem.transport")
        .unwrap_or_else(|_| "knet".into());
    let local = cfg.local_nodeid().map_err(|e| {
        eprintln!(
            "Could not get the local node id, the error is: {}",
            cs::number(&e)
        );
        1
    })?;
    let keys = cmap.iter("nodelist.node.").map_err(|e| {
        eprintln!("Could not get nodelist from cmap. error {}", cs::number(&e));
        1
    })?;
    let mut nodeids = Vec::new();
    for key in &keys {
        if is_nodeid_key(&key.key)
            && let Ok(nodeid) = cmap.get_u32(&key.key)
        {
            nodeids.push(NodeId(nodeid));
        }
    }
    if nodeids.is_empty() {
        eprintln!("No nodes found in nodelist");
        return Err(1);
    }
    nodeids.sort();
    let mut report = Report {
        transport,
        local,
        ..Report::default()
    };
    let default = if report.knet() { "udp" } else { "" };
    report.link_transport = std::array::from_fn(|_| default.to_owned());
    if let Ok(keys) = cmap.iter("totem.interface.") {
        for key in keys {
            let Some(link) = interface_number(&key.key) else {
                continue;
            };
            let name = format!("totem.interface.{link}.knet_transport");
            if let (Some(slot), Ok(value)) = (
                report.link_transport.get_mut(link as usize),
                cmap.get_string(&name),
            ) {
                *slot = value;
            }
        }
    }
    for nodeid in nodeids {
        let status = cfg.node_status(nodeid).map_err(|e| cs::number(&e));
        report.nodes.push((nodeid, status));
    }
    Ok(report)
}

/// `nodelist.node.<u>.nodeid` exactly (corosync's `sscanf` with a `%n` guard).
fn is_nodeid_key(key: &str) -> bool {
    key.strip_prefix("nodelist.node.")
        .and_then(|rest| rest.strip_suffix(".nodeid"))
        .is_some_and(|pos| !pos.is_empty() && pos.bytes().all(|b| b.is_ascii_digit()))
}

/// The link number of a `totem.interface.<u>.` key: corosync's `sscanf("totem.interface.%u
/// .knet_transport") == 1` matches any key with a number there.
fn interface_number(key: &str) -> Option<u32> {
    let rest = key.strip_prefix("totem.interface.")?;
    let (negative, digits, _) = cs::split_number(rest)?;
    let n: u32 = digits.parse().ok()?;
    Some(if negative { n.wrapping_neg() } else { n })
}

/// The first line of `-s` and `-n`.
fn header(report: &Report) -> Vec<u8> {
    format!(
        "Local node ID {}, transport {}\n",
        report.local.0, report.transport
    )
    .into_bytes()
}

/// `-s` as corosync prints it: for each link another node has enabled, its number and
/// transport, this node's address on it, then each node's state (`-b`: one character per
/// node, `n` for this node, else `enabled | connected << 1`).
pub fn links_text(report: &Report, format: &LinkFormat) -> Vec<u8> {
    let mut out = header(report);
    // A node cfg gave no status for prints as a zeroed one, node id 0, as in corosync.
    let statuses: Vec<CfgNodeStatus> = report
        .nodes
        .iter()
        .map(|(_, s)| s.clone().unwrap_or_default())
        .collect();
    let (local, other) = (report.local_index(), report.other_index());
    let Some(other_status) = statuses.get(other) else {
        return out;
    };
    for (i, link) in other_status.links.iter().enumerate() {
        if !link.enabled || !link_selected(i, link.src_ipaddr.as_bytes(), format) {
            continue;
        }
        out.extend_from_slice(
            format!("LINK ID {i} {}\n\taddr\t= ", report.link_transport[i]).as_bytes(),
        );
        out.extend_from_slice(link.src_ipaddr.as_bytes());
        out.push(b'\n');
        if format.brief {
            out.extend_from_slice(b"\tstatus\t= ");
            for (j, status) in statuses.iter().enumerate() {
                let l = &status.links[i];
                let c = if j == local {
                    b'n'
                } else {
                    b'0' + u8::from(l.enabled) + (u8::from(l.connected) << 1)
                };
                out.push(c);
            }
            out.push(b'\n');
        } else {
            out.extend_from_slice(b"\tstatus:\n");
            for (j, status) in statuses.iter().enumerate() {
                let state = if j == local {
                    "localhost"
                } else if status.links[i].connected {
                    "connected"
                } else {
                    "disconnected"
                };
                let line = format!("\t\tnodeid: {:>10}:\t{state}\n", status.nodeid.0);
                out.extend_from_slice(line.as_bytes());
            }
        }
    }
    out
}

/// `-i`: the link number or this node's address on it.
fn link_selected(link: usize, src: &[u8], format: &LinkFormat) -> bool {
    match &format.filter {
        None => true,
        Some(f) => f.as_bytes() == src || f.parse::<usize>() == Ok(link),
    }
}

/// `-n` as corosync prints it: each other reachable node, its flags, then each enabled
/// link with its addresses (`src->dst` for knet, the peer alone otherwise), state and MTU.
pub fn nodes_text(report: &Report) -> Vec<u8> {
    let mut out = header(report);
    for status in report.nodes.iter().filter_map(|(_, s)| s.as_ref().ok()) {
        if !status.reachable || status.nodeid == report.local {
            continue;
        }
        out.extend_from_slice(format!("nodeid: {} reachable", status.nodeid.0).as_bytes());
        if status.remote {
            out.extend_from_slice(b" remote");
        }
        if status.external {
            out.extend_from_slice(b" external");
        }
        out.push(b'\n');
        for (j, link) in status.links.iter().enumerate() {
            if !link.enabled {
                continue;
            }
            out.extend_from_slice(
                format!("   LINK: {j} {} (", report.link_transport[j]).as_bytes(),
            );
            out.extend_from_slice(link.src_ipaddr.as_bytes());
            if report.knet() {
                out.extend_from_slice(b"->");
            }
            out.extend_from_slice(link.dst_ipaddr.as_bytes());
            out.extend_from_slice(b") enabled");
            if link.connected {
                out.extend_from_slice(b" connected");
            }
            if link.dynconnected {
                out.extend_from_slice(b" dynconnected");
            }
            out.extend_from_slice(format!(" mtu: {}\n", link.mtu as i32).as_bytes());
        }
        out.push(b'\n');
    }
    out
}

#[derive(Serialize)]
struct LinkNodeJson {
    nodeid: u32,
    status: &'static str,
}

#[derive(Serialize)]
struct LinkJson {
    link: usize,
    transport: String,
    addr: String,
    nodes: Vec<LinkNodeJson>,
}

#[derive(Serialize)]
struct LinksJson {
    local_nodeid: u32,
    transport: String,
    links: Vec<LinkJson>,
}

/// `-s --json`: `{"local_nodeid":1,"transport":"udpu","links":[{"link":0,"transport":"",
/// "addr":"10.0.0.1","nodes":[{"nodeid":1,"status":"localhost"},...]}]}`.
pub fn links_json(report: &Report, format: &LinkFormat) -> Vec<u8> {
    let statuses: Vec<CfgNodeStatus> = report
        .nodes
        .iter()
        .map(|(_, s)| s.clone().unwrap_or_default())
        .collect();
    let local = report.local_index();
    let mut links = Vec::new();
    if let Some(other) = statuses.get(report.other_index()) {
        for (i, link) in other.links.iter().enumerate() {
            if !link.enabled || !link_selected(i, link.src_ipaddr.as_bytes(), format) {
                continue;
            }
            let nodes = statuses
                .iter()
                .enumerate()
                .map(|(j, s)| LinkNodeJson {
                    nodeid: s.nodeid.0,
                    status: if j == local {
                        "localhost"
                    } else if s.links[i].connected {
                        "connected"
                    } else {
                        "disconnected"
                    },
                })
                .collect();
            links.push(LinkJson {
                link: i,
                transport: report.link_transport[i].clone(),
                addr: link.src_ipaddr.to_string_lossy(),
                nodes,
            });
        }
    }
    json_line(&LinksJson {
        local_nodeid: report.local.0,
        transport: report.transport.clone(),
        links,
    })
}

#[derive(Serialize)]
struct NodeLinkJson {
    link: usize,
    transport: String,
    src: String,
    dst: String,
    connected: bool,
    dynconnected: bool,
    mtu: u32,
}

#[derive(Serialize)]
struct NodeJson {
    nodeid: u32,
    reachable: bool,
    remote: bool,
    external: bool,
    links: Vec<NodeLinkJson>,
}

#[derive(Serialize)]
struct NodesJson {
    local_nodeid: u32,
    transport: String,
    nodes: Vec<NodeJson>,
}

/// `-n --json`: every node of the nodelist with a status (not only the reachable ones
/// `-n` prints), each with its enabled links.
pub fn nodes_json(report: &Report) -> Vec<u8> {
    let nodes = report
        .nodes
        .iter()
        .filter_map(|(_, s)| s.as_ref().ok())
        .map(|s| NodeJson {
            nodeid: s.nodeid.0,
            reachable: s.reachable,
            remote: s.remote,
            external: s.external,
            links: s
                .links
                .iter()
                .enumerate()
                .filter(|(_, l)| l.enabled)
                .map(|(j, l)| NodeLinkJson {
                    link: j,
                    transport: report.link_transport[j].clone(),
                    src: l.src_ipaddr.to_string_lossy(),
                    dst: l.dst_ipaddr.to_string_lossy(),
                    connected: l.connected,
                    dynconnected: l.dynconnected,
                    mtu: l.mtu,
                })
                .collect(),
        })
        .collect();
    json_line(&NodesJson {
        local_nodeid: report.local.0,
        transport: report.transport.clone(),
        nodes,
    })
}

fn json_line(value: &impl Serialize) -> Vec<u8> {
    let mut out = serde_json::to_vec(value).unwrap_or_default();
    out.push(b'\n');
    out
}

/// `-a`: the node's addresses separated by spaces, as corosync's `showaddrs_do`.
fn addresses(options: &Options, nodeid: NodeId, json: bool) -> u8 {
    let mut cfg = match cfg_connect(options) {
        Ok(cfg) => cfg,
        Err(code) => return code,
    };
    match cfg.node_addrs(nodeid) {
        Ok(addrs) => {
            let addrs: Vec<String> = addrs.iter().map(ToString::to_string).collect();
            if json {
                #[derive(Serialize)]
                struct AddrsJson<'a> {
                    nodeid: u32,
                    addrs: &'a [String],
                }
                write_out(&json_line(&AddrsJson {
                    nodeid: nodeid.0,
                    addrs: &addrs,
                }));
            } else {
                write_out(format!("{}\n", addrs.join(" ")).as_bytes());
            }
            0
        }
        Err(_) => {
            eprintln!("Could not get node address for nodeid {}", nodeid.0 as i32);
            1
        }
    }
}

/// What `-R` prints on stdout: `Done` after a successful reload, then the daemon's
/// `config.reload_error_message` if it left one.
pub fn reload_text(reloaded: bool, error_message: Option<&str>) -> String {
    let mut out = String::from("Reloading corosync.conf...\n");
    if reloaded {
        out += "Done\n";
    }
    if let Some(message) = error_message {
        out += &format!("ERROR from reload: {message} - see syslog for more information\n");
    }
    out
}

/// `-R`: corosync's `reload_config_do`. A failed reload exits with the cs_error number,
/// as corosync 3.1.7 does. Then, as later corosync releases do (`check_for_reload_errors`;
/// 3.1.7 has no such check), the daemon's `config.reload_error_message` is printed and
/// makes the exit code 1 if the reload itself succeeded.
fn reload(options: &Options, json: bool) -> u8 {
    let failure = match Cfg::connect(options) {
        Ok(mut cfg) => match cfg.reload_config() {
            Ok(()) => None,
            Err(e) => {
                eprintln!("Could not reload configuration. Error {}", cs::strerror(&e));
                Some(u8::try_from(cs::number(&e)).unwrap_or(1))
            }
        },
        Err(e) => {
            if !json {
                write_out(b"Reloading corosync.conf...\n");
            }
            eprintln!(
                "Could not initialize corosync configuration API error {}",
                cs::strerror(&e)
            );
            return 1;
        }
    };
    let message = match Cmap::connect(options) {
        Ok(mut cmap) => cmap.get_string("config.reload_error_message").ok(),
        Err(e) => {
            eprintln!(
                "Could not initialize corosync cmap API error {}",
                cs::number(&e)
            );
            return 1;
        }
    };
    if json {
        #[derive(Serialize)]
        struct ReloadJson<'a> {
            reloaded: bool,
            error: Option<&'a str>,
        }
        write_out(&json_line(&ReloadJson {
            reloaded: failure.is_none(),
            error: message.as_deref(),
        }));
    } else {
        write_out(reload_text(failure.is_none(), message.as_deref()).as_bytes());
    }
    if message.is_some() {
        // corosync's spelling, kept for scripts that match it.
        eprintln!("Errors in appying config, corosync.conf might not match the running system");
    }
    match (failure, &message) {
        (Some(code), _) => code,
        (None, Some(_)) => 1,
        (None, None) => 0,
    }
}

/// `-L`: exits with the cs_error number on failure, as corosync does.
fn reopen_logs(options: &Options) -> u8 {
    let mut cfg = match Cfg::connect(options) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!(
                "Could not initialize corosync configuration API error {}",
                cs::strerror(&e)
            );
            return 1;
        }
    };
    match cfg.reopen_log_files() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!(
                "Could not reopen corosync logging files. Error {}",
                cs::strerror(&e)
            );
            u8::try_from(cs::number(&e)).unwrap_or(1)
        }
    }
}

/// `-k`: the killed node logs corosync-cfgtool's reason, so its operators recognise it.
fn kill(options: &Options, nodeid: NodeId) -> u8 {
    write_out(format!("Killing node {}\n", nodeid.0).as_bytes());
    let mut cfg = match cfg_connect(options) {
        Ok(cfg) => cfg,
        Err(code) => return code,
    };
    match cfg.kill_node(nodeid, "Killed by corosync-cfgtool") {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("Could not kill node (error = {})", cs::strerror(&e));
            1
        }
    }
}

/// `-H`: asks the tracking clients unless `--force` (REGARDLESS: asked, but not obeyed),
/// retrying while the daemon says "try again". With `--all`, every node does so with its
/// own clients; the outcome printed is this node's.
fn shutdown(options: &Options, force: bool, all: bool) -> u8 {
    let mut cfg = match cfg_connect(options) {
        Ok(cfg) => cfg,
        Err(code) => return code,
    };
    let flags = if force {
        ShutdownFlags::Regardless
    } else {
        ShutdownFlags::Request
    };
    write_out(if all {
        b"Shutting down corosync on every node\n"
    } else {
        b"Shutting down corosync\n"
    });
    let mut tries = 0;
    let result = loop {
        let result = if all {
            cfg.shutdown_cluster(flags)
        } else {
            cfg.try_shutdown(flags)
        };
        match result {
            Err(Error::TryAgain) if tries + 1 < SHUTDOWN_TRIES => {
                tries += 1;
                std::thread::sleep(Duration::from_secs(1));
            }
            other => break other,
        }
    };
    match result {
        // The daemon stopping before it answered is the shutdown working.
        Ok(()) | Err(Error::Disconnected) => 0,
        Err(e) => {
            eprintln!("Could not shutdown (error = {})", cs::number(&e));
            1
        }
    }
}

/// `--veto-shutdown` (ours): tracks shutdown requests and answers each with no, printing
/// one line per request, until the daemon goes away (exit 0) or the tool is killed.
fn veto_shutdown(options: &Options) -> u8 {
    let mut cfg = match cfg_connect(options) {
        Ok(cfg) => cfg,
        Err(code) => return code,
    };
    if let Err(e) = cfg.track_start() {
        eprintln!(
            "Could not track shutdown requests. Error {}",
            cs::strerror(&e)
        );
        return 1;
    }
    loop {
        let mut asked = None;
        let dispatched = cfg.dispatch(Dispatch::Blocking, &mut |Event::TestShutdown { flags }| {
            asked = Some(flags);
            ControlFlow::Break(())
        });
        match dispatched {
            Ok(_) => {}
            Err(Error::Disconnected) => return 0,
            Err(e) => {
                eprintln!("Dispatch error {}", cs::strerror(&e));
                return 1;
            }
        }
        let Some(flags) = asked else {
            continue;
        };
        write_out(format!("Vetoing shutdown request ({flags:?})\n").as_bytes());
        match cfg.reply_to_shutdown(ShutdownReply::No) {
            Ok(()) => {}
            // A forced or immediate shutdown may not wait for the answer.
            Err(Error::Disconnected) => return 0,
            Err(e) => {
                eprintln!(
                    "Could not answer the shutdown request. Error {}",
                    cs::strerror(&e)
                );
                return 1;
            }
        }
    }
}

#[cfg(test)]
mod tests;
