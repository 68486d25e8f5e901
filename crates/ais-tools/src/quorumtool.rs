//! `ais-quorumtool`: shows and changes the quorum state of the local node, with the flags
//! and the output of corosync 3.1.7's `corosync-quorumtool`, byte for byte (but the
//! `Date:` line), so scripts that parse it keep working.
//!
//! Node names come from cmap `nodelist.node.N.name`, else from the node's first address
//! resolved with `getnameinfo` (the address with `-i`, every address with `-a`), exactly as
//! corosync does it; like corosync, a name that does not resolve prints empty. Exit codes
//! are corosync's: `-s` exits 2 when the partition is not quorate, 1 on errors.
//!
//! Ours, not corosync's: `-w` waits until the partition is quorate and exits 0 (`timeout
//! 60 ais-quorumtool -w` bounds the wait); `--json` prints `-s`, `-l` and each `-m`
//! notification as JSON, one compact object per line. Differences: a usage error exits 2
//! (clap), not 1, and two commands at once are refused; with `-o i` or `-o n` each node
//! keeps its own votes (corosync sorts the names but not the votes it fetched before); a
//! node whose votequorum info cannot be read shows 0 votes (corosync shows uninitialised
//! memory); `-m` prints a notification once votequorum's node list for the same ring
//! arrived, or at once when the ring did not change (corosync waits for a node list that
//! a quorum-only change never brings); without a quorum provider `-s` prints the first
//! block (corosync 3.1.7 fails with "Unable to start votequorum status tracking:
//! CS_ERR_BAD_HANDLE"); `-f` cannot unregister a quorum device, as
//! `ais-client` has no `votequorum_qdevice_unregister` (it exits 0 when none is
//! registered, as corosync does).

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::net::IpAddr;
use std::ops::ControlFlow;
use std::process::ExitCode;
use std::time::Duration;

use ais_client::cfg::Cfg;
use ais_client::cmap::Cmap;
use ais_client::quorum::{self, Quorum, quorum_type};
use ais_client::votequorum::{Event, TrackFlags, Votequorum, VotequorumInfo, info_flags};
use ais_client::{Dispatch, Error, Options};
use ais_types::NodeId;
use serde::Serialize;

use crate::cs;
use crate::sys::{LocalTime, name_info};

/// corosync's `EXIT_NOT_QUORATE`: what `-s` exits with when the partition is not quorate.
pub const EXIT_NOT_QUORATE: u8 = 2;

/// How long `-m` waits for votequorum's node list of a new ring before printing anyway.
const NODELIST_WAIT: Duration = Duration::from_secs(2);

/// Display and change the quorum state of the cluster (corosync-quorumtool).
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "ais-quorumtool", version, about)]
#[command(group = clap::ArgGroup::new("command").multiple(false))]
pub struct QuorumtoolArgs {
    /// Show quorum status (the default). Exits 2 when not quorate.
    #[arg(short = 's', long = "status", group = "command")]
    pub status: bool,
    /// Constantly monitor quorum status: the status after every change.
    #[arg(short = 'm', long = "monitor", group = "command")]
    pub monitor: bool,
    /// List nodes.
    #[arg(short = 'l', long = "list", group = "command")]
    pub list: bool,
    /// Wait until the partition is quorate, then exit 0 (ours; corosync has no -w).
    #[arg(short = 'w', long = "wait", group = "command")]
    pub wait: bool,
    /// Show all names or addresses for each node.
    #[arg(short = 'a', long = "all-addresses")]
    pub all_addresses: bool,
    /// With -s or -l, machine-parsable output (a Qdevice column for every node).
    #[arg(short = 'p', long = "parsable")]
    pub parsable: bool,
    /// Change the number of votes for a node (votequorum only).
    #[arg(short = 'v', long = "votes", value_name = "VOTES", group = "command")]
    pub votes: Option<String>,
    /// The node for -v (default: this node).
    #[arg(short = 'n', long = "nodeid", value_name = "NODEID")]
    pub nodeid: Option<String>,
    /// Change expected votes for the cluster (votequorum only).
    #[arg(
        short = 'e',
        long = "expected",
        value_name = "EXPECTED",
        group = "command"
    )]
    pub expected: Option<String>,
    /// Show node ids in hexadecimal rather than decimal.
    #[arg(short = 'H', long = "hex")]
    pub hex: bool,
    /// Show node IP addresses instead of the resolved names.
    #[arg(short = 'i', long = "ip")]
    pub ip: bool,
    /// Order by [a] IP address (default), [n] name, [i] node id.
    #[arg(short = 'o', long = "order", value_name = "a|n|i")]
    pub order: Option<String>,
    /// Forcefully unregister a quorum device (votequorum only).
    #[arg(short = 'f', long = "unregister-qdevice", group = "command")]
    pub unregister_qdevice: bool,
    /// Prefix of the daemon's IPC names ("" is corosync's).
    #[arg(
        long,
        value_name = "PREFIX",
        env = "AIS_IPC_PREFIX",
        default_value = ""
    )]
    pub ipc_prefix: String,
    /// Machine-readable output for -s, -l and -m: one JSON object per line.
    #[arg(long)]
    pub json: bool,
}

/// What to do, from the flags, with the numbers checked as corosync checks them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// `-s` (and no command at all).
    Status,
    /// `-m`.
    Monitor,
    /// `-l`.
    List,
    /// `-w`.
    Wait,
    /// `-v VOTES [-n NODEID]`.
    SetVotes {
        /// The new votes.
        votes: u32,
        /// The node, this one if `None`.
        nodeid: Option<NodeId>,
    },
    /// `-e EXPECTED`.
    SetExpected(u32),
    /// `-f`.
    UnregisterQdevice,
}

/// The order of the membership list (`-o`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    /// As the daemon sent them (corosync: "by address").
    #[default]
    Address,
    /// By node name.
    Name,
    /// By node id.
    NodeId,
}

/// How to print, from the flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Format {
    /// `-H`: node ids as `0x%08x`.
    pub hex: bool,
    /// `-p`: always the Qdevice column.
    pub parsable: bool,
}

impl Command {
    /// The command the flags ask for; an invalid number gets corosync's message.
    pub fn from_args(args: &QuorumtoolArgs) -> Result<Self, String> {
        const INT_MAX: i64 = i32::MAX as i64;
        let nodeid = match &args.nodeid {
            Some(text) => Some(NodeId(
                cs::strtonum(text, 1, u32::MAX.into())
                    .ok_or("The nodeid was not valid, try a positive number")?
                    as u32,
            )),
            None => None,
        };
        if let Some(text) = &args.votes {
            let votes = cs::strtonum(text, 0, INT_MAX)
                .ok_or("New votes value was not valid, try a positive number or zero")?;
            return Ok(Self::SetVotes {
                votes: votes as u32,
                nodeid,
            });
        }
        if let Some(text) = &args.expected {
            let expected = cs::strtonum(text, 1, INT_MAX)
                .ok_or("New expected votes value was not valid, try a positive number")?;
            return Ok(Self::SetExpected(expected as u32));
        }
        Ok(if args.monitor {
            Self::Monitor
        } else if args.list {
            Self::List
        } else if args.wait {
            Self::Wait
        } else if args.unregister_qdevice {
            Self::UnregisterQdevice
        } else {
            Self::Status
        })
    }
}

impl Order {
    /// `-o`'s value; anything else gets corosync's message.
    pub fn parse(text: Option<&str>) -> Result<Self, String> {
        match text {
            None | Some("a") => Ok(Self::Address),
            Some("n") => Ok(Self::Name),
            Some("i") => Ok(Self::NodeId),
            Some(_) => Err(
                "Invalid ordering option. valid orders are a(address), i(node ID) or n(name)"
                    .into(),
            ),
        }
    }
}

/// One line of the membership list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Member {
    /// The node.
    pub nodeid: NodeId,
    /// Its votequorum info, when votequorum is the provider (all zero if it could not be
    /// read).
    pub info: Option<VotequorumInfo>,
    /// Votequorum could not give its info: corosync says so above the list.
    pub info_unavailable: bool,
    /// Its name, as [`compose_name`] makes it.
    pub name: String,
}

/// The membership list with what its layout depends on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Membership {
    /// The nodes, in display order.
    pub members: Vec<Member>,
    /// This node (`runtime.votequorum.this_node_id`; 0 without votequorum, as in corosync).
    pub local: NodeId,
    /// Votequorum is the provider: the Votes column is shown.
    pub votequorum: bool,
}

/// The ring id as quorumtool prints it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ring {
    /// The representative, from votequorum's node list (`None` without votequorum: only
    /// the sequence number is printed).
    pub rep: Option<NodeId>,
    /// The sequence number, from the quorum notification.
    pub seq: u64,
}

/// Everything `-s` prints.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// `quorum.provider`, or "Not configured".
    pub provider: String,
    /// The ring.
    pub ring: Ring,
    /// Whether the partition is quorate.
    pub quorate: bool,
    /// This node's votequorum info (`None` without votequorum: no Votequorum block and no
    /// membership list, as in corosync).
    pub info: Option<VotequorumInfo>,
    /// The members.
    pub membership: Membership,
}

/// Runs the tool. Exit 0 on success, 2 for `-s` when not quorate, 1 on errors.
pub fn run(args: QuorumtoolArgs) -> anyhow::Result<ExitCode> {
    let parsed = Command::from_args(&args)
        .and_then(|command| Ok((command, Order::parse(args.order.as_deref())?)));
    let (command, order) = match parsed {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("{message}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let view = View {
        format: Format {
            hex: args.hex,
            parsable: args.parsable,
        },
        order,
        ip: args.ip,
        all_addresses: args.all_addresses,
        json: args.json,
    };
    let mut session = match Session::open(&args.ipc_prefix) {
        Ok(session) => session,
        Err(message) => {
            eprintln!("{message}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let code = match command {
        Command::Status => session.show_status(&view),
        Command::List => session.show_nodes(&view),
        Command::Monitor => session.monitor(&view),
        Command::Wait => session.wait_quorate(),
        Command::SetVotes { votes, nodeid } => session.set_votes(votes, nodeid),
        Command::SetExpected(expected) => session.set_expected(expected),
        Command::UnregisterQdevice => session.unregister_qdevice(),
    };
    Ok(ExitCode::from(code))
}

/// The display flags.
#[derive(Clone, Copy, Debug)]
struct View {
    format: Format,
    order: Order,
    ip: bool,
    all_addresses: bool,
    json: bool,
}

/// The connections corosync-quorumtool's `init_all` opens.
struct Session {
    cmap: Cmap,
    quorum: Quorum,
    cfg: Cfg,
    /// Present when votequorum is the provider.
    votequorum: Option<Votequorum>,
    our_nodeid: NodeId,
}

impl Session {
    fn open(ipc_prefix: &str) -> Result<Self, String> {
        let options = Options::with_prefix(ipc_prefix);
        let mut cmap = Cmap::connect(&options).map_err(|_| "Cannot initialize CMAP service")?;
        let quorum = Quorum::connect(&options).map_err(|_| "Cannot initialize QUORUM service")?;
        let cfg = Cfg::connect(&options).map_err(|_| "Cannot initialise CFG service")?;
        let mut session_votequorum = None;
        let mut our_nodeid = NodeId(0);
        if provider(&mut cmap, &quorum).as_deref() == Some("corosync_votequorum") {
            session_votequorum = Some(
                Votequorum::connect(&options)
                    .map_err(|_| "Cannot initialise VOTEQUORUM service")?,
            );
            our_nodeid = NodeId(
                cmap.get_u32("runtime.votequorum.this_node_id")
                    .map_err(|_| "Unable to retrieve this_node_id")?,
            );
        }
        Ok(Self {
            cmap,
            quorum,
            cfg,
            votequorum: session_votequorum,
            our_nodeid,
        })
    }

    /// `-s`: the quorum state now.
    fn show_status(&mut self, view: &View) -> u8 {
        let quorate = match self.quorum.get_quorate() {
            Ok(quorate) => quorate,
            Err(e) => return fail("Unable to get cluster quorate status", &e),
        };
        if let Err(e) = self.quorum.track_start(TrackFlags::CURRENT) {
            return fail("Unable to start quorum status tracking", &e);
        }
        let notification = match next_quorum(&mut self.quorum) {
            Ok(n) => n,
            Err(e) => return fail("Unable to dispatch quorum status", &e),
        };
        if let Err(e) = self.quorum.track_stop() {
            eprintln!(
                "Unable to stop quorum status tracking: {}",
                cs::strerror(&e)
            );
        }
        let mut rep = None;
        if let Some(vq) = &mut self.votequorum {
            if let Err(e) = vq.track_start(0, TrackFlags::CURRENT) {
                return fail("Unable to start votequorum status tracking", &e);
            }
            match next_nodelist(vq, None) {
                Ok(ring) => rep = ring.map(|(rep, _)| rep),
                Err(e) => return fail("Unable to dispatch votequorum status", &e),
            }
        }
        let ring = Ring {
            rep,
            seq: notification.ring_seq,
        };
        match self.print_status(view, quorate, ring, &notification.view_list) {
            Ok(()) if quorate => 0,
            Ok(()) => EXIT_NOT_QUORATE,
            Err(_) => 1,
        }
    }

    /// Gathers and prints one status block (or JSON line). When this node's votequorum
    /// info cannot be read, prints the first block and corosync's message and returns the
    /// error.
    fn print_status(
        &mut self,
        view: &View,
        quorate: bool,
        ring: Ring,
        nodes: &[NodeId],
    ) -> Result<(), Error> {
        let provider = provider(&mut self.cmap, &self.quorum);
        let provider = provider.unwrap_or_else(|| "Not configured".into());
        let our_nodeid = self.our_nodeid;
        let info = self.votequorum.as_mut().map(|vq| vq.get_info(our_nodeid));
        let info = match info.transpose() {
            Ok(info) => info,
            Err(e) => {
                let status = Status {
                    provider,
                    ring,
                    quorate,
                    info: None,
                    membership: self.bare_membership(nodes),
                };
                if !view.json {
                    write_out(&head_text(&status, &date(), view.format));
                }
                eprintln!("Unable to get node info: {}", cs::strerror(&e));
                return Err(e);
            }
        };
        // corosync shows no membership list without votequorum; JSON always has one.
        let membership = if info.is_some() || view.json {
            self.membership(view, nodes)
        } else {
            self.bare_membership(nodes)
        };
        let status = Status {
            provider,
            ring,
            quorate,
            info,
            membership,
        };
        if view.json {
            write_out(&status_json(&status));
        } else {
            write_out(&status_text(&status, &date(), view.format));
        }
        Ok(())
    }

    /// The members without names or votes: all the first block needs.
    fn bare_membership(&self, nodes: &[NodeId]) -> Membership {
        Membership {
            members: nodes
                .iter()
                .map(|&nodeid| Member {
                    nodeid,
                    ..Member::default()
                })
                .collect(),
            local: self.our_nodeid,
            votequorum: false,
        }
    }

    /// The membership list of `nodes`: votes, names, order.
    fn membership(&mut self, view: &View, nodes: &[NodeId]) -> Membership {
        let mut members = Vec::with_capacity(nodes.len());
        for &nodeid in nodes {
            let info = self.votequorum.as_mut().map(|vq| vq.get_info(nodeid));
            members.push(Member {
                nodeid,
                info_unavailable: matches!(info, Some(Err(_))),
                info: info.map(Result::unwrap_or_default),
                name: String::new(),
            });
        }
        let names = if view.ip {
            BTreeMap::new()
        } else {
            nodelist_names(&mut self.cmap)
        };
        for member in &mut members {
            let nodelist_name = names.get(&member.nodeid.0).map(String::as_str);
            member.name = match self.cfg.node_addrs(member.nodeid) {
                Ok(addrs) => {
                    let resolve = |addr| name_info(addr, view.ip);
                    compose_name(nodelist_name, &addrs, view.all_addresses, &resolve)
                }
                Err(e) => {
                    eprintln!(
                        "Unable to get node address for nodeid {}: {}",
                        member.nodeid.0,
                        cs::strerror(&e)
                    );
                    String::new()
                }
            };
        }
        sort_members(&mut members, view.order);
        Membership {
            members,
            local: self.our_nodeid,
            votequorum: self.votequorum.is_some(),
        }
    }

    /// `-l`: the membership list alone.
    fn show_nodes(&mut self, view: &View) -> u8 {
        if let Err(e) = self.quorum.track_start(TrackFlags::CURRENT) {
            return fail("Unable to start quorum status tracking", &e);
        }
        let notification = match next_quorum(&mut self.quorum) {
            Ok(n) => n,
            Err(e) => return fail("Unable to dispatch quorum status", &e),
        };
        let membership = self.membership(view, &notification.view_list);
        if view.json {
            write_out(&members_json(&membership));
        } else {
            write_out(&members_text(&membership, view.format));
        }
        0
    }

    /// `-m`: the status after every change, until killed.
    fn monitor(&mut self, view: &View) -> u8 {
        if self.quorum.quorum_type() == quorum_type::FREE {
            write_out("\nQuorum is not configured - cannot monitor\n");
            return self.show_status(view);
        }
        if let Err(e) = self.quorum.track_start(TrackFlags::CHANGES) {
            return fail("Unable to start quorum status tracking", &e);
        }
        if let Some(vq) = &mut self.votequorum
            && let Err(e) = vq.track_start(0, TrackFlags::CHANGES)
        {
            return fail("Unable to start votequorum status tracking", &e);
        }
        // The last node list votequorum sent: its ring's representative and sequence.
        let mut last_ring: Option<(NodeId, u64)> = None;
        loop {
            let notification = match next_quorum(&mut self.quorum) {
                Ok(n) => n,
                Err(e) => return fail("Unable to dispatch quorum status", &e),
            };
            if let Some(vq) = &mut self.votequorum {
                match next_nodelist(vq, Some((last_ring, notification.ring_seq))) {
                    Ok(Some(ring)) => last_ring = Some(ring),
                    Ok(None) => {}
                    Err(e) => return fail("Unable to dispatch votequorum status", &e),
                }
            }
            let ring = Ring {
                rep: self
                    .votequorum
                    .as_ref()
                    .map(|_| last_ring.map_or(NodeId(0), |r| r.0)),
                seq: notification.ring_seq,
            };
            let printed =
                self.print_status(view, notification.quorate, ring, &notification.view_list);
            if !view.json {
                write_out("\n");
            }
            if let Err(e) = printed {
                return fail("Unable to display quorum data", &e);
            }
        }
    }

    /// `-w` (ours): returns once the partition is quorate.
    fn wait_quorate(&mut self) -> u8 {
        if let Err(e) = self.quorum.track_start(TrackFlags::CHANGES) {
            return fail("Unable to start quorum status tracking", &e);
        }
        loop {
            match next_quorum(&mut self.quorum) {
                Ok(n) if n.quorate => return 0,
                Ok(_) => {}
                Err(e) => return fail("Unable to dispatch quorum status", &e),
            }
        }
    }

    fn set_votes(&mut self, votes: u32, nodeid: Option<NodeId>) -> u8 {
        let our_nodeid = self.our_nodeid;
        let Some(vq) = &mut self.votequorum else {
            eprintln!("You cannot change node votes, corosync is not using votequorum");
            return 1;
        };
        let nodeid = nodeid.unwrap_or(our_nodeid);
        match vq.set_votes(nodeid, votes) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!(
                    "Unable to set votes {votes} for nodeid: {}: {}",
                    nodeid.0,
                    cs::strerror(&e)
                );
                1
            }
        }
    }

    fn set_expected(&mut self, expected: u32) -> u8 {
        let Some(vq) = &mut self.votequorum else {
            eprintln!("You cannot change expected votes, corosync is not using votequorum");
            return 1;
        };
        match vq.set_expected(expected) {
            Ok(()) => 0,
            Err(e) => fail("Unable to set expected votes", &e),
        }
    }

    fn unregister_qdevice(&mut self) -> u8 {
        let our_nodeid = self.our_nodeid;
        let Some(vq) = &mut self.votequorum else {
            eprintln!("You cannot unregister quorum device, corosync is not using votequorum");
            return 1;
        };
        match vq.get_info(our_nodeid) {
            Ok(info) if info.flags & info_flags::QDEVICE_REGISTERED == 0 => 0,
            Ok(_) => {
                // ais-client has no votequorum_qdevice_unregister.
                eprintln!("Unable to unregister quorum device: CS_ERR_NOT_SUPPORTED");
                1
            }
            Err(e) => fail("Unable to get quorum device info", &e),
        }
    }
}

/// Prints `what: <cs error>` to stderr; exit 1.
fn fail(what: &str, e: &Error) -> u8 {
    eprintln!("{what}: {}", cs::strerror(e));
    1
}

/// The local time as the `Date:` line prints it.
fn date() -> String {
    LocalTime::now().map(|t| t.ctime()).unwrap_or_default()
}

/// Writes to stdout and flushes (a `-m` reader sees each block at once); a closed pipe is
/// ignored, as the next write will fail again and the tool ends with its command.
fn write_out(text: &str) {
    let mut out = io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// corosync's `get_quorum_type`: `quorum.provider`, unless the daemon runs without a
/// quorum provider (quorum type FREE).
fn provider(cmap: &mut Cmap, quorum: &Quorum) -> Option<String> {
    if quorum.quorum_type() == quorum_type::FREE {
        return None;
    }
    cmap.get_string("quorum.provider").ok()
}

/// Waits for the next quorum notification.
fn next_quorum(quorum: &mut Quorum) -> ais_client::Result<quorum::Notification> {
    let mut got = None;
    quorum.dispatch(Dispatch::Blocking, &mut |n| {
        got = Some(n);
        ControlFlow::Break(())
    })?;
    got.ok_or(Error::Disconnected)
}

/// Reads votequorum events up to a node list and returns its ring (representative,
/// sequence). With `until = None`, waits for the first node list. With `until = Some((last,
/// seq))`, returns once a node list for ring sequence `seq` arrived, or at once if `last`
/// already is that ring, or after [`NODELIST_WAIT`] with the newest node list seen (`None`
/// if none).
fn next_nodelist(
    vq: &mut Votequorum,
    until: Option<(Option<(NodeId, u64)>, u64)>,
) -> ais_client::Result<Option<(NodeId, u64)>> {
    let Some((mut last, seq)) = until else {
        let mut ring = None;
        vq.dispatch(Dispatch::Blocking, &mut |event| match event {
            Event::Nodelist { ring_id, .. } => {
                ring = Some((ring_id.rep, ring_id.seq));
                ControlFlow::Break(())
            }
            _ => ControlFlow::Continue(()),
        })?;
        return Ok(ring);
    };
    loop {
        // Whatever is already there first, so the newest node list wins.
        vq.dispatch(Dispatch::All, &mut |event| {
            if let Event::Nodelist { ring_id, .. } = event {
                last = Some((ring_id.rep, ring_id.seq));
            }
            ControlFlow::Continue(())
        })?;
        if last.is_some_and(|(_, s)| s == seq) || !vq.wait(Some(NODELIST_WAIT))? {
            return Ok(last);
        }
    }
}

/// Every node's name from cmap's nodelist, as corosync's `node_name_by_nodelist` finds it:
/// the first `nodelist.node.N.nodeid` equal to the node whose `nodelist.node.N.name`
/// exists, cut to 254 bytes.
fn nodelist_names(cmap: &mut Cmap) -> BTreeMap<u32, String> {
    let mut names = BTreeMap::new();
    let Ok(keys) = cmap.iter("nodelist.node.") else {
        return names;
    };
    for key in keys {
        let Some(pos) = key
            .key
            .strip_prefix("nodelist.node.")
            .and_then(|rest| rest.strip_suffix(".nodeid"))
            .and_then(|pos| pos.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(nodeid) = cmap.get_u32(&format!("nodelist.node.{pos}.nodeid")) else {
            continue;
        };
        if names.contains_key(&nodeid) {
            continue;
        }
        if let Ok(mut name) = cmap.get_string(&format!("nodelist.node.{pos}.name")) {
            truncate_bytes(&mut name, 254);
            names.insert(nodeid, name);
        }
    }
    names
}

fn truncate_bytes(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

/// corosync's `node_name`: the nodelist name if there is one, then (with `all`) the other
/// addresses, or (without a name) the first address, or every address with `all`, each
/// resolved by `resolve` and separated by ", ". An address that does not resolve adds
/// nothing but its separator.
pub fn compose_name(
    nodelist_name: Option<&str>,
    addrs: &[IpAddr],
    all: bool,
    resolve: &dyn Fn(IpAddr) -> Option<String>,
) -> String {
    let mut name = String::new();
    let mut start = 0;
    if let Some(given) = nodelist_name.filter(|n| !n.is_empty()) {
        name.push_str(given);
        start = 1;
    }
    let count = if all { addrs.len() } else { 1 };
    for (i, &addr) in addrs.iter().enumerate().take(count).skip(start) {
        if i > 0 {
            name.push_str(", ");
        }
        if let Some(resolved) = resolve(addr) {
            name.push_str(&resolved);
        }
    }
    name
}

/// `-o`: the daemon's order, or sorted by node id or by name (byte order, as `strcmp`).
pub fn sort_members(members: &mut [Member], order: Order) {
    match order {
        Order::Address => {}
        Order::NodeId => members.sort_by_key(|m| m.nodeid),
        Order::Name => members.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes())),
    }
}

/// corosync's `print_string_padded`: right-aligned in 10 columns, then a space.
fn padded(text: &str) -> String {
    format!("{text:>10} ")
}

fn nodeid_column(nodeid: NodeId, format: Format) -> String {
    if format.hex {
        format!("0x{:08x} ", nodeid.0)
    } else {
        padded(&nodeid.0.to_string())
    }
}

/// The membership list as corosync's `display_nodes_data` prints it (`-l`, and the end
/// of `-s`).
pub fn members_text(m: &Membership, format: Format) -> String {
    let infos = || m.members.iter().filter_map(|member| member.info.as_ref());
    let registered = |info: &VotequorumInfo| info.flags & info_flags::QDEVICE_REGISTERED != 0;
    let display_qdevice = infos().any(registered);
    let qdevice_column = m.votequorum && (display_qdevice || format.parsable);
    let mut out = String::new();
    for member in m.members.iter().filter(|member| member.info_unavailable) {
        // corosync prints this on stdout, then shows uninitialised memory (here: zeros).
        out += &format!("Unable to get node {} info\n", member.nodeid.0);
    }
    out += "\nMembership information\n----------------------\n";
    out += &padded("Nodeid");
    if m.votequorum {
        out += &padded("Votes");
        if qdevice_column {
            out += &padded("Qdevice");
        }
    }
    out += "Name\n";
    let mut our_flags = 0;
    for member in &m.members {
        out += &nodeid_column(member.nodeid, format);
        let info = member.info.clone().unwrap_or_default();
        if m.votequorum {
            out += &padded(&info.votes.to_string());
            if qdevice_column {
                if registered(&info) {
                    let flag = |bit, yes, no| if info.flags & bit != 0 { yes } else { no };
                    out += &padded(&format!(
                        "{},{},{}",
                        flag(info_flags::QDEVICE_ALIVE, "A", "NA"),
                        flag(info_flags::QDEVICE_CAST_VOTE, "V", "NV"),
                        flag(info_flags::QDEVICE_MASTER_WINS, "MW", "NMW"),
                    ));
                } else {
                    out += &padded("NR");
                }
            }
        }
        out += &member.name;
        if member.nodeid == m.local {
            out += " (local)";
            our_flags = info.flags;
        }
        out += "\n";
    }
    if m.votequorum && display_qdevice {
        // corosync reads the device from the first node's info.
        let first = infos().next().cloned().unwrap_or_default();
        let cast = our_flags & info_flags::QDEVICE_CAST_VOTE != 0;
        out += &nodeid_column(NodeId(0), format);
        out += &padded(&if cast { first.qdevice_votes } else { 0 }.to_string());
        out += "           ";
        out += &first.qdevice_name.to_string_lossy();
        if cast {
            out += "\n";
        } else {
            out += &format!(" (votes {})\n", first.qdevice_votes as i32);
        }
    }
    out
}

/// The first block of `-s`, up to `Quorate:`; `date` is ctime's text without the newline.
pub fn head_text(s: &Status, date: &str, format: Format) -> String {
    let node_id = if format.hex {
        format!("0x{:08x}", s.membership.local.0)
    } else {
        s.membership.local.0.to_string()
    };
    let ring = match s.ring.rep {
        Some(rep) => format!("{:x}.{:x}", rep.0, s.ring.seq),
        None => format!("{:x}", s.ring.seq),
    };
    format!(
        "Quorum information\n------------------\n\
         Date:             {date}\n\
         Quorum provider:  {}\n\
         Nodes:            {}\n\
         Node ID:          {node_id}\n\
         Ring ID:          {ring}\n\
         Quorate:          {}\n",
        s.provider,
        s.membership.members.len(),
        if s.quorate { "Yes" } else { "No" },
    )
}

/// The Votequorum block of `-s`.
pub fn votequorum_text(info: &VotequorumInfo) -> String {
    // corosync prints these u32 fields with %d.
    let mut out = format!(
        "\nVotequorum information\n----------------------\n\
         Expected votes:   {}\n\
         Highest expected: {}\n\
         Total votes:      {}\n\
         Quorum:           {} {}\n\
         Flags:            ",
        info.expected_votes as i32,
        info.highest_expected as i32,
        info.total_votes as i32,
        info.quorum as i32,
        if info.flags & info_flags::QUORATE != 0 {
            " "
        } else {
            "Activity blocked"
        },
    );
    for name in flag_names(info.flags) {
        out += name;
        out += " ";
    }
    out += "\n";
    out
}

/// The words of the `Flags:` line, in corosync's order.
pub fn flag_names(flags: u32) -> Vec<&'static str> {
    [
        (info_flags::TWONODE, "2Node"),
        (info_flags::QUORATE, "Quorate"),
        (info_flags::WAIT_FOR_ALL, "WaitForAll"),
        (info_flags::LAST_MAN_STANDING, "LastManStanding"),
        (info_flags::AUTO_TIE_BREAKER, "AutoTieBreaker"),
        (info_flags::ALLOW_DOWNSCALE, "AllowDownscale"),
        (info_flags::QDEVICE_REGISTERED, "Qdevice"),
    ]
    .into_iter()
    .filter(|(bit, _)| flags & bit != 0)
    .map(|(_, name)| name)
    .collect()
}

/// Everything `-s` prints, as corosync's `display_quorum_data` prints it: without
/// votequorum only the first block.
pub fn status_text(s: &Status, date: &str, format: Format) -> String {
    let mut out = head_text(s, date, format);
    if let Some(info) = &s.info {
        out += &votequorum_text(info);
        out += &members_text(&s.membership, format);
    }
    out
}

/// A node in `--json` output.
#[derive(Serialize)]
struct NodeJson<'a> {
    nodeid: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    votes: Option<u32>,
    name: &'a str,
    local: bool,
}

/// The ring id in `--json` output.
#[derive(Serialize)]
struct RingJson {
    #[serde(skip_serializing_if = "Option::is_none")]
    rep: Option<u32>,
    seq: u64,
}

/// `-s` and each `-m` notification in `--json` output.
#[derive(Serialize)]
struct StatusJson<'a> {
    quorate: bool,
    members: Vec<u32>,
    ring_id: RingJson,
    node_id: u32,
    provider: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    expected_votes: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    highest_expected: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    total_votes: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    quorum: Option<u32>,
    flags: Vec<&'static str>,
    nodes: Vec<NodeJson<'a>>,
}

fn node_json<'a>(m: &'a Membership, member: &'a Member) -> NodeJson<'a> {
    NodeJson {
        nodeid: member.nodeid.0,
        votes: member.info.as_ref().map(|i| i.votes),
        name: &member.name,
        local: member.nodeid == m.local,
    }
}

/// `-s --json` and `-m --json`: one compact object and a newline, e.g.
/// `{"quorate":true,"members":[1,2,3],"ring_id":{"rep":1,"seq":77},...}`.
pub fn status_json(s: &Status) -> String {
    let m = &s.membership;
    let info = s.info.as_ref();
    let object = StatusJson {
        quorate: s.quorate,
        members: m.members.iter().map(|member| member.nodeid.0).collect(),
        ring_id: RingJson {
            rep: s.ring.rep.map(|r| r.0),
            seq: s.ring.seq,
        },
        node_id: m.local.0,
        provider: &s.provider,
        expected_votes: info.map(|i| i.expected_votes),
        highest_expected: info.map(|i| i.highest_expected),
        total_votes: info.map(|i| i.total_votes),
        quorum: info.map(|i| i.quorum),
        flags: info.map(|i| flag_names(i.flags)).unwrap_or_default(),
        nodes: m
            .members
            .iter()
            .map(|member| node_json(m, member))
            .collect(),
    };
    let mut line = serde_json::to_string(&object).unwrap_or_default();
    line.push('\n');
    line
}

/// `-l --json`: one object per node and line, `{"nodeid":1,"votes":1,"name":"n1","local":true}`.
pub fn members_json(m: &Membership) -> String {
    let mut out = String::new();
    for member in &m.members {
        out += &serde_json::to_string(&node_json(m, member)).unwrap_or_default();
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests;
