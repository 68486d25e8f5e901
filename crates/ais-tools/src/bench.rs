//! `ais-bench`: CPG throughput and latency across a cluster, with a check that every member
//! delivered the same messages in the same order.
//!
//! Each connection (one per `--ipc-prefix`, each in its own thread; or one instance per node)
//! joins the group and waits until it has `--members` members. Then, for each `--size`, one
//! phase (a "run"):
//!
//! 1. the senders (the first `--senders` members in (nodeid, pid) order) multicast DATA for
//!    `--duration` seconds (or, with `--latency`, `--count` messages, each after the last
//!    came back, `--interval-ms` apart), then an END carrying how many they sent;
//! 2. every member checks each sender's DATA arrive 0, 1, 2, … and that the END's count was
//!    all delivered, hashing (nodeid, pid, seq) in delivery order;
//! 3. once all ENDs are in, every member multicasts a REPORT with its count, hash, first and
//!    last delivery time and latency summary, and waits for everybody's REPORT.
//!
//! Agreed order makes the phases line up without any other synchronisation: a sender starts
//! run r+1 only after delivering every REPORT of run r, so every member delivers those
//! REPORTs before any DATA of run r+1. Any membership change fails the benchmark.
//!
//! Times are `CLOCK_MONOTONIC`, shared by every process on a machine (and its network
//! namespaces), so latency is send → own delivery on the sender's clock.

mod header;
mod order;
mod table;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::ops::ControlFlow;
use std::process::ExitCode;
use std::time::Duration;

use ais_client::cpg::{Cpg, Dispatch, Event, Member};
use ais_client::{Error, Options};
use ais_wire::ipc::Guarantee;
use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};

pub use header::{DecodeError, HEADER_LEN, Header, Kind, MAGIC, REPORT_LEN, Report};
pub use order::{OrderChecker, OrderError};
pub use table::{Row, json_lines, table};

/// Give up when nothing at all arrives for this long (a member hung or was stopped).
const STALL: Duration = Duration::from_secs(60);

/// Measure CPG throughput and latency across the cluster, and check that every member
/// delivers the same messages in the same order.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "ais-bench", version, about)]
pub struct BenchArgs {
    /// Prefix of a local daemon's IPC names; repeat to run one connection (thread) per
    /// daemon. Default: AIS_IPC_PREFIX, or "" (corosync's names).
    #[arg(long = "ipc-prefix", value_name = "PREFIX")]
    pub ipc_prefix: Vec<String>,
    /// Message sizes in bytes, repeatable or comma-separated; one phase per size.
    #[arg(
        long = "size",
        value_name = "BYTES",
        value_delimiter = ',',
        default_value = "64,1024,8192,65536"
    )]
    pub sizes: Vec<usize>,
    /// How many members send: the first N in (nodeid, pid) order. Default: all.
    #[arg(long, value_name = "N")]
    pub senders: Option<usize>,
    /// Wait until the group has M members. Default: the number of --ipc-prefix given.
    #[arg(long, value_name = "M")]
    pub members: Option<usize>,
    /// Length of each throughput phase, seconds.
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    pub duration: f64,
    /// Low-load latency mode: each sender sends one message, waits for it to come back,
    /// sleeps --interval-ms; --count messages per size.
    #[arg(long)]
    pub latency: bool,
    /// Pause between latency probes, milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1)]
    pub interval_ms: u64,
    /// Latency probes per sender and size.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub count: u64,
    /// The CPG group to use.
    #[arg(long, value_name = "NAME", default_value = "ais-bench")]
    pub group: String,
    /// One JSON object per result row instead of the table.
    #[arg(long)]
    pub json: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// What one connection does, fixed before it starts.
#[derive(Clone, Debug)]
struct Plan {
    sizes: Vec<usize>,
    members: usize,
    senders: usize,
    duration_ns: u64,
    latency: bool,
    interval: Duration,
    count: u64,
    group: Vec<u8>,
}

/// Runs the benchmark and prints the table (or JSON). Exit 1 if any member saw a gap, a
/// duplicate, or another order than the others, or if a connection failed.
pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let outcome = measure(&args)?;
    for e in &outcome.errors {
        eprintln!("ais-bench: error: {e:#}");
    }
    if let Some(rows) = &outcome.rows {
        if args.json {
            print!("{}", json_lines(rows));
        } else {
            print!("{}", table(rows));
        }
        for r in rows.iter().filter(|r| !r.order_ok) {
            eprintln!(
                "ais-bench: ORDER MISMATCH at size {}: members disagree on what was delivered \
                 or in which order",
                r.size
            );
        }
    }
    Ok(if outcome.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// What a benchmark found: the rows (from the first connection that finished), and every
/// connection's error.
#[derive(Debug)]
pub struct Outcome {
    /// One row per size, if any connection finished.
    pub rows: Option<Vec<Row>>,
    /// Connections that failed, and why.
    pub errors: Vec<anyhow::Error>,
}

impl Outcome {
    /// No connection failed and every member agreed on the order at every size.
    pub fn ok(&self) -> bool {
        self.errors.is_empty()
            && self
                .rows
                .as_ref()
                .is_some_and(|rows| rows.iter().all(|r| r.order_ok))
    }
}

/// Runs the benchmark and returns what it found, printing nothing but the progress bar.
pub fn measure(args: &BenchArgs) -> anyhow::Result<Outcome> {
    let prefixes = if args.ipc_prefix.is_empty() {
        vec![Options::from_env().ipc_prefix]
    } else {
        args.ipc_prefix.clone()
    };
    let plan = plan(args, prefixes.len())?;
    let show = !args.quiet && std::io::stderr().is_terminal();
    let results: Vec<anyhow::Result<Vec<Row>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = prefixes
            .iter()
            .enumerate()
            .map(|(i, prefix)| {
                let plan = &plan;
                // Only the first connection draws progress; all see the same phases.
                let bar = if show && i == 0 {
                    spinner()
                } else {
                    ProgressBar::hidden()
                };
                scope.spawn(move || {
                    let result = Worker::start(prefix, plan, bar.clone()).and_then(Worker::run);
                    bar.finish_and_clear();
                    result.with_context(|| format!("connection with IPC prefix {prefix:?}"))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a benchmark thread panicked")))
            })
            .collect()
    });
    let mut outcome = Outcome {
        rows: None,
        errors: Vec::new(),
    };
    for result in results {
        match result {
            Ok(r) => {
                outcome.rows.get_or_insert(r);
            }
            Err(e) => outcome.errors.push(e),
        }
    }
    Ok(outcome)
}

/// Checks the flags and fills in the defaults.
fn plan(args: &BenchArgs, connections: usize) -> anyhow::Result<Plan> {
    let members = args.members.unwrap_or(connections);
    let senders = args.senders.unwrap_or(members);
    if members == 0 || senders == 0 || senders > members {
        bail!("need 1 ≤ --senders ({senders}) ≤ --members ({members})");
    }
    if let Some(&size) = args
        .sizes
        .iter()
        .find(|&&s| !(HEADER_LEN..=ais_client::cpg::MESSAGE_MAX).contains(&s))
    {
        bail!(
            "--size {size}: must be {HEADER_LEN} to {} bytes",
            ais_client::cpg::MESSAGE_MAX
        );
    }
    if !(args.duration > 0.0 && args.duration.is_finite()) {
        bail!("--duration must be a positive number of seconds");
    }
    if args.group.len() > ais_wire::ipc::CPG_NAME_MAX {
        bail!("--group: at most {} bytes", ais_wire::ipc::CPG_NAME_MAX);
    }
    Ok(Plan {
        sizes: args.sizes.clone(),
        members,
        senders,
        duration_ns: (args.duration * 1e9) as u64,
        latency: args.latency,
        interval: Duration::from_millis(args.interval_ms),
        count: args.count,
        group: args.group.clone().into_bytes(),
    })
}

fn spinner() -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// `CLOCK_MONOTONIC` in nanoseconds. The tool measures wall time, so it reads the clock
/// itself (the daemon-only clock rule is about the protocol core).
fn now_ns() -> u64 {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// One connection's benchmark.
struct Worker<'a> {
    cpg: Cpg,
    plan: &'a Plan,
    bar: ProgressBar,
    state: State,
}

/// Everything the event handler updates.
struct State {
    me: Member,
    wanted_members: usize,
    wanted_senders: usize,
    group: Vec<u8>,
    /// The group once it reached the wanted size, sorted; empty before.
    members: Vec<Member>,
    senders: Vec<Member>,
    run: u32,
    checker: OrderChecker,
    ends: BTreeMap<Member, u64>,
    reports: BTreeMap<Member, Report>,
    first_ns: u64,
    last_ns: u64,
    latency: Histogram<u64>,
    /// Own DATA delivered back in this run.
    own_delivered: u64,
    /// The first failure seen by the handler.
    error: Option<anyhow::Error>,
}

impl<'a> Worker<'a> {
    fn start(prefix: &str, plan: &'a Plan, bar: ProgressBar) -> anyhow::Result<Self> {
        let mut cpg = Cpg::connect(&Options::with_prefix(prefix))?;
        let nodeid = cpg.local_nodeid()?;
        retry(&mut cpg, |c| c.join(&plan.group))?;
        let latency =
            Histogram::new_with_bounds(1, 3_600_000_000_000, 3).context("latency histogram")?;
        Ok(Self {
            cpg,
            plan,
            bar,
            state: State {
                me: Member {
                    nodeid,
                    pid: std::process::id(),
                },
                wanted_members: plan.members,
                wanted_senders: plan.senders,
                group: plan.group.clone(),
                members: Vec::new(),
                senders: Vec::new(),
                run: 0,
                checker: OrderChecker::default(),
                ends: BTreeMap::new(),
                reports: BTreeMap::new(),
                first_ns: 0,
                last_ns: 0,
                latency,
                own_delivered: 0,
                error: None,
            },
        })
    }

    fn run(mut self) -> anyhow::Result<Vec<Row>> {
        self.bar
            .set_message(format!("waiting for {} members", self.plan.members));
        self.pump_until(|s| !s.members.is_empty())?;
        let sender = self.state.senders.contains(&self.state.me);
        let mut rows = Vec::new();
        for (run, &size) in self.plan.sizes.iter().enumerate() {
            self.state.start_run(run as u32);
            let mode = if self.plan.latency {
                "latency"
            } else {
                "throughput"
            };
            self.bar.set_message(format!("{mode}, {size} bytes"));
            let (sent, try_again) = if !sender {
                (0, 0)
            } else if self.plan.latency {
                self.probe(size)?
            } else {
                self.flood(size)?
            };
            if sender {
                self.send(
                    &self.state.header(Kind::End, sent).message(HEADER_LEN),
                    &mut 0,
                )?;
            }
            let senders = self.state.senders.len();
            self.pump_until(|s| s.ends.len() == senders)?;
            let report = self.state.report(sent, try_again);
            let msg = report.message(&self.state.header(Kind::Report, 0));
            self.send(&msg, &mut 0)?;
            let members = self.state.members.len();
            self.pump_until(|s| s.reports.len() == members)?;
            let reports: Vec<Report> = self.state.reports.values().copied().collect();
            rows.push(Row::from_reports(size, senders, &reports));
        }
        let _ = self.cpg.leave(&self.plan.group);
        let _ = self.cpg.finalize();
        Ok(rows)
    }

    /// Throughput: DATA as fast as flow control lets through, for the phase's duration.
    fn flood(&mut self, size: usize) -> anyhow::Result<(u64, u64)> {
        let deadline = now_ns() + self.plan.duration_ns;
        let mut msg = self.state.header(Kind::Data, 0).message(size);
        let (mut seq, mut try_again) = (0, 0);
        while now_ns() < deadline {
            self.state.header(Kind::Data, seq).encode(&mut msg);
            self.send(&msg, &mut try_again)?;
            seq += 1;
            self.pump()?;
        }
        Ok((seq, try_again))
    }

    /// Latency: one DATA at a time, each after the previous came back.
    fn probe(&mut self, size: usize) -> anyhow::Result<(u64, u64)> {
        let mut msg = self.state.header(Kind::Data, 0).message(size);
        let mut try_again = 0;
        for seq in 0..self.plan.count {
            self.state.header(Kind::Data, seq).encode(&mut msg);
            self.send(&msg, &mut try_again)?;
            self.pump_until(|s| s.own_delivered > seq)?;
            std::thread::sleep(self.plan.interval);
        }
        Ok((self.plan.count, try_again))
    }

    /// Multicasts `msg`, reading events while flow control holds it back.
    fn send(&mut self, msg: &[u8], try_again: &mut u64) -> anyhow::Result<()> {
        loop {
            match self.cpg.mcast(Guarantee::AGREED, msg) {
                Ok(()) => return Ok(()),
                Err(Error::TryAgain) => {
                    *try_again += 1;
                    if self.pump()? == 0 {
                        self.cpg.wait(Some(Duration::from_millis(1)))?;
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Dispatches ready events into the state; returns how many.
    fn pump(&mut self) -> anyhow::Result<usize> {
        self.pump_while(&|_| false)
    }

    /// Dispatches ready events, stopping right after the one that makes `done` hold, so
    /// that a run's last REPORT is never followed by the next run's DATA in one call.
    fn pump_while(&mut self, done: &dyn Fn(&State) -> bool) -> anyhow::Result<usize> {
        let state = &mut self.state;
        let n = self.cpg.dispatch(Dispatch::All, &mut |event| {
            if let Err(e) = state.handle(event) {
                state.error = Some(e);
                return ControlFlow::Break(());
            }
            if done(state) {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })?;
        if let Some(e) = self.state.error.take() {
            return Err(e);
        }
        self.bar.tick();
        Ok(n)
    }

    /// Dispatches until `done` holds, failing if nothing arrives for [`STALL`].
    fn pump_until(&mut self, done: impl Fn(&State) -> bool) -> anyhow::Result<()> {
        let mut idle_since = now_ns();
        while !done(&self.state) {
            if self.pump_while(&done)? > 0 {
                idle_since = now_ns();
                continue;
            }
            if now_ns() - idle_since > STALL.as_nanos() as u64 {
                bail!(
                    "nothing delivered for {} s: is a member stuck?",
                    STALL.as_secs()
                );
            }
            self.cpg.wait(Some(Duration::from_millis(100)))?;
        }
        Ok(())
    }
}

/// Runs `f` until the daemon stops answering TRY_AGAIN (it does during a membership
/// change), for about ten seconds at most.
fn retry<T>(
    cpg: &mut Cpg,
    mut f: impl FnMut(&mut Cpg) -> ais_client::Result<T>,
) -> anyhow::Result<T> {
    for _ in 0..10_000 {
        match f(cpg) {
            Err(Error::TryAgain) => std::thread::sleep(Duration::from_millis(1)),
            result => return Ok(result?),
        }
    }
    bail!("the daemon kept answering TRY_AGAIN")
}

impl State {
    fn start_run(&mut self, run: u32) {
        self.run = run;
        self.checker = OrderChecker::default();
        self.ends.clear();
        self.reports.clear();
        self.first_ns = 0;
        self.last_ns = 0;
        self.latency.reset();
        self.own_delivered = 0;
    }

    fn header(&self, kind: Kind, seq: u64) -> Header {
        Header {
            kind,
            nodeid: self.me.nodeid,
            pid: self.me.pid,
            run: self.run,
            seq,
            send_ns: now_ns(),
        }
    }

    fn report(&self, sent: u64, try_again: u64) -> Report {
        let timed = !self.latency.is_empty();
        Report {
            delivered: self.checker.delivered(),
            order_hash: self.checker.hash(),
            first_ns: self.first_ns,
            last_ns: self.last_ns,
            sent,
            try_again,
            latency_count: self.latency.len(),
            p50_ns: if timed {
                self.latency.value_at_quantile(0.5)
            } else {
                0
            },
            p99_ns: if timed {
                self.latency.value_at_quantile(0.99)
            } else {
                0
            },
            max_ns: if timed { self.latency.max() } else { 0 },
        }
    }

    fn handle(&mut self, event: Event) -> anyhow::Result<()> {
        match event {
            Event::Confchg { group, members, .. } if group == self.group => {
                if !self.members.is_empty() {
                    bail!("the group's membership changed during the benchmark: {members:?}");
                }
                self.joined(members)
            }
            Event::Deliver {
                group,
                nodeid,
                pid,
                data,
            } if group == self.group => {
                let now = now_ns();
                let header = Header::decode(&data).context("a message in the group")?;
                let from = Member { nodeid, pid };
                if (header.nodeid, header.pid) != (nodeid, pid) {
                    bail!(
                        "message from {from} claims to be from {}/{}",
                        header.nodeid,
                        header.pid
                    );
                }
                self.deliver(from, header, &data, now)
            }
            _ => Ok(()),
        }
    }

    /// A confchg before the benchmark: once the group has exactly the wanted size, fix
    /// members and senders.
    fn joined(&mut self, mut members: Vec<Member>) -> anyhow::Result<()> {
        members.sort();
        if members.len() > self.wanted_members {
            bail!(
                "the group has {} members, more than --members {}: another benchmark running?",
                members.len(),
                self.wanted_members
            );
        }
        if members.len() == self.wanted_members {
            self.senders = members.iter().copied().take(self.wanted_senders).collect();
            self.members = members;
        }
        Ok(())
    }

    fn deliver(
        &mut self,
        from: Member,
        header: Header,
        data: &[u8],
        now: u64,
    ) -> anyhow::Result<()> {
        if self.members.is_empty() {
            // Leftovers from before the group was complete: not part of any run.
            return Ok(());
        }
        if header.run != self.run {
            bail!(
                "message of run {} from {from} during run {}: phases out of step",
                header.run,
                self.run
            );
        }
        match header.kind {
            Kind::Data => {
                if !self.senders.contains(&from) {
                    bail!("DATA from {from}, which is not a sender");
                }
                self.checker.deliver(from, header.seq)?;
                if self.first_ns == 0 {
                    self.first_ns = now;
                }
                self.last_ns = now;
                if from == self.me {
                    self.own_delivered += 1;
                    self.latency
                        .saturating_record(now.saturating_sub(header.send_ns).max(1));
                }
            }
            Kind::End => {
                self.checker.end(from, header.seq)?;
                self.ends.insert(from, header.seq);
            }
            Kind::Report => {
                let report = Report::decode(data)?;
                self.reports.insert(from, report);
            }
        }
        Ok(())
    }
}
