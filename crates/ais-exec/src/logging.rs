//! Installs the daemon's log subscriber as `logging {}` asks: stderr, a file and/or syslog,
//! with or without timestamps, `debug` globally or per subsystem (`logger_subsys`). The
//! environment variable `AIS_LOG` (an `EnvFilter` directive such as `ais_totem=trace`)
//! overrides the configured levels. A configuration reload replaces the destinations and
//! levels in place ([`prepare`], then [`Prepared::apply`]).

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use anyhow::Context;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry, reload};

/// Where and how much to log, from `logging {}`.
#[derive(Clone, Debug, Default)]
pub(crate) struct LogSettings {
    pub(crate) to_stderr: bool,
    pub(crate) logfile: Option<PathBuf>,
    pub(crate) to_syslog: bool,
    /// `debug: on` (or `trace`) for every subsystem.
    pub(crate) level: &'static str,
    /// `(subsys, level)` from `logger_subsys`.
    pub(crate) subsystems: Vec<(String, &'static str)>,
    pub(crate) timestamps: bool,
    /// Prefix every line (the local cluster tells its nodes apart with it).
    pub(crate) tag: Option<String>,
}

/// Corosync's subsystem names and the crates that log under them.
const SUBSYSTEMS: &[(&str, &[&str])] = &[
    ("TOTEM", &["ais_totem"]),
    ("KNET", &["ais_transport"]),
    ("TRANSPORT", &["ais_transport"]),
    ("MAIN", &["ais_exec"]),
    ("CONFIG", &["ais_config"]),
];

type Boxed = Box<dyn Layer<Registry> + Send + Sync>;
type Sinks = Vec<Boxed>;
type Filtered = tracing_subscriber::layer::Layered<reload::Layer<Sinks, Registry>, Registry>;

/// What a reload replaces, and the tag the daemon was started with.
struct Installed {
    sinks: reload::Handle<Sinks, Registry>,
    filter: reload::Handle<EnvFilter, Filtered>,
    tag: Option<String>,
}

static INSTALLED: OnceLock<Installed> = OnceLock::new();

/// New sinks and levels, opened and checked, not yet in effect.
pub(crate) struct Prepared {
    sinks: Sinks,
    filter: EnvFilter,
}

/// Installs the subscriber for the daemon's whole life.
pub(crate) fn install(settings: &LogSettings) -> anyhow::Result<()> {
    let Prepared { sinks, filter } = build(settings)?;
    let (sinks, sinks_handle) = reload::Layer::new(sinks);
    let (filter, filter_handle) = reload::Layer::new(filter);
    Registry::default()
        .with(sinks)
        .with(filter)
        .try_init()
        .context("a log subscriber was already installed")?;
    let _ = INSTALLED.set(Installed {
        sinks: sinks_handle,
        filter: filter_handle,
        tag: settings.tag.clone(),
    });
    Ok(())
}

/// Opens the destinations of new settings (the start-up tag is kept); an error (a logfile
/// that cannot be opened, a bad `AIS_LOG`) changes nothing.
pub(crate) fn prepare(settings: &LogSettings) -> anyhow::Result<Prepared> {
    let mut settings = settings.clone();
    if let Some(installed) = INSTALLED.get() {
        settings.tag.clone_from(&installed.tag);
    }
    build(&settings)
}

impl Prepared {
    /// Puts the new destinations and levels in effect; a no-op where no subscriber of ours
    /// was installed (tests).
    pub(crate) fn apply(self) {
        let Some(installed) = INSTALLED.get() else {
            return;
        };
        if let Err(e) = installed.filter.reload(self.filter) {
            tracing::warn!("log levels not reloaded: {e}");
        }
        if let Err(e) = installed.sinks.reload(self.sinks) {
            tracing::warn!("log destinations not reloaded: {e}");
        }
    }
}

fn build(settings: &LogSettings) -> anyhow::Result<Prepared> {
    let filter = match std::env::var("AIS_LOG") {
        Ok(directives) => EnvFilter::try_new(&directives)
            .with_context(|| format!("AIS_LOG={directives:?} is not a valid filter"))?,
        Err(_) => {
            let mut directives = vec![settings.level.to_owned()];
            for (subsys, level) in &settings.subsystems {
                let upper = subsys.to_ascii_uppercase();
                for (name, targets) in SUBSYSTEMS {
                    if *name == upper {
                        directives.extend(targets.iter().map(|t| format!("{t}={level}")));
                    }
                }
            }
            EnvFilter::try_new(directives.join(","))?
        }
    };
    let mut layers: Sinks = Vec::new();
    let timestamps = settings.timestamps;
    if settings.to_stderr {
        let writer = Tagged {
            tag: settings.tag.clone(),
        };
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(writer);
        layers.push(if timestamps {
            layer.boxed()
        } else {
            layer.without_time().boxed()
        });
    }
    if let Some(path) = &settings.logfile {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open logfile {}", path.display()))?;
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(Mutex::new(file));
        layers.push(if timestamps {
            layer.boxed()
        } else {
            layer.without_time().boxed()
        });
    }
    if settings.to_syslog {
        // syslog stamps the time itself.
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .without_time()
            .with_writer(Syslog);
        layers.push(layer.boxed());
    }
    Ok(Prepared {
        sinks: layers,
        filter,
    })
}

/// stderr, each line prefixed with the node's tag.
struct Tagged {
    tag: Option<String>,
}

impl<'a> MakeWriter<'a> for Tagged {
    type Writer = LineWriter;
    fn make_writer(&'a self) -> LineWriter {
        LineWriter {
            buf: self
                .tag
                .as_ref()
                .map(|t| format!("{t} ").into_bytes())
                .unwrap_or_default(),
            sink: Sink::Stderr,
        }
    }
}

/// Messages to the local syslog daemon over `/dev/log`, facility daemon.
struct Syslog;

impl<'a> MakeWriter<'a> for Syslog {
    type Writer = LineWriter;
    fn make_writer(&'a self) -> LineWriter {
        syslog_writer(6)
    }
    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> LineWriter {
        // RFC 3164 priority: facility daemon (3) × 8 + severity.
        let severity = match *meta.level() {
            tracing::Level::ERROR => 3,
            tracing::Level::WARN => 4,
            tracing::Level::INFO => 6,
            _ => 7,
        };
        syslog_writer(severity)
    }
}

fn syslog_writer(severity: u8) -> LineWriter {
    let head = format!("<{}>aisexec[{}]: ", 3 * 8 + severity, std::process::id());
    LineWriter {
        buf: head.into_bytes(),
        sink: Sink::Syslog,
    }
}

enum Sink {
    Stderr,
    Syslog,
}

/// Collects one event's text and writes it in one piece when dropped, so lines from
/// several sinks never interleave mid-line.
struct LineWriter {
    buf: Vec<u8>,
    sink: Sink,
}

impl Write for LineWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        match self.sink {
            Sink::Stderr => {
                let _ = io::stderr().lock().write_all(&self.buf);
            }
            Sink::Syslog => {
                // No syslog daemon: the line is lost, as with corosync; stderr still has it.
                // Non-blocking: a stalled syslog daemon loses lines, it never stalls the
                // loop that passes the token.
                if let Ok(socket) = UnixDatagram::unbound()
                    && socket.set_nonblocking(true).is_ok()
                {
                    let text = self.buf.strip_suffix(b"\n").unwrap_or(&self.buf);
                    let _ = socket.send_to(text, "/dev/log");
                }
            }
        }
    }
}
