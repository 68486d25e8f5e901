//! `ais-cmapctl`: reads and changes the configuration map of the local node, with the flags,
//! the output and the error messages of corosync 3.1.7's `corosync-cmapctl`, byte for byte,
//! so scripts that parse it keep working.
//!
//! As in corosync, `-g`, `-s`, `-d`, `-D`, `-t` and `-T` choose what to do with the keys
//! given as arguments (`-g a b` reads both), no flag lists the keys with each prefix given
//! (all of them without one), and exit codes are corosync's: 1 when a key is missing or an
//! operation is refused.
//!
//! Differences, all deliberate: two action flags at once are a usage error (corosync takes
//! the last); a usage error exits 2 (clap), not 1; `-p` with a file that cannot be opened
//! exits 1 (corosync prints the error and exits 0); `-t`/`-T` stop on a `q` line from
//! stdin as corosync does, but when stdin ends they keep tracking until killed (corosync
//! stops), so they also work under `nohup` or with `</dev/null`; a binary byte above 0x7f
//! prints as corosync prints it, sign-extended (`\xFFFFFF80`). `--json` is ours.

use std::io::{self, BufRead, BufWriter, Read, Write};
use std::ops::ControlFlow;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use ais_client::cmap::{Change, Cmap, CmapValue, KeyInfo, Map, track, value_type};
use ais_client::{Dispatch, Error, Options};
use serde::Serialize;

use crate::cs;

/// How often corosync-cmapctl retries a connection the daemon answers "try again".
const CONNECT_TRIES: u32 = 10;

/// Display and change the configuration map of the local node (corosync-cmapctl).
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "ais-cmapctl", version, about, allow_negative_numbers = true)]
#[command(group = clap::ArgGroup::new("action").multiple(false))]
pub struct CmapctlArgs {
    /// Show the values of binary keys.
    #[arg(short = 'b', long = "binary")]
    pub binary: bool,
    /// Print only the values (with -g).
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Print the keys given.
    #[arg(short = 'g', long = "get", group = "action")]
    pub get: bool,
    /// Set a key: KEY TYPE VALUE, TYPE one of i8 u8 i16 u16 i32 u32 i64 u64 flt dbl str bin
    /// (for bin, VALUE names a file, or - for stdin).
    #[arg(short = 's', long = "set", group = "action")]
    pub set: bool,
    /// Delete the keys given.
    #[arg(short = 'd', long = "delete", group = "action")]
    pub delete: bool,
    /// Delete every key starting with each prefix given.
    #[arg(short = 'D', long = "delete-prefix", group = "action")]
    pub delete_prefix: bool,
    /// Print changes of the keys given until "q" is typed or the tool is killed.
    #[arg(short = 't', long = "track", group = "action")]
    pub track: bool,
    /// Print changes of every key starting with each prefix given.
    #[arg(short = 'T', long = "track-prefix", group = "action")]
    pub track_prefix: bool,
    /// Load settings from FILE: lines of `KEY TYPE VALUE`; `^KEY` deletes a key, `^^PREFIX`
    /// every key with the prefix; `#` starts a comment line.
    #[arg(short = 'p', long = "load", value_name = "FILE", group = "action")]
    pub load: Option<PathBuf>,
    /// Clear statistics: knet, ipc, totem, schedmiss or all (implies the stats map).
    #[arg(
        short = 'C',
        long = "clear-stats",
        value_name = "WHAT",
        group = "action"
    )]
    pub clear_stats: Option<String>,
    /// The map to use: icmap (or default), or stats.
    #[arg(short = 'm', long = "map", value_name = "MAP")]
    pub map: Option<String>,
    /// Keys or prefixes (for -s: KEY TYPE VALUE).
    #[arg(value_name = "PARAMS")]
    pub params: Vec<String>,
    /// Prefix of the daemon's IPC names ("" is corosync's).
    #[arg(
        long,
        value_name = "PREFIX",
        env = "AIS_IPC_PREFIX",
        default_value = ""
    )]
    pub ipc_prefix: String,
    /// Machine-readable output: one JSON object per key or change.
    #[arg(long)]
    pub json: bool,
}

/// What to do, from the flags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// List the keys with the given prefixes, or all keys.
    Print,
    /// Print the given keys.
    Get,
    /// Set KEY TYPE VALUE.
    Set,
    /// Delete the given keys.
    Delete,
    /// Delete the keys with the given prefixes.
    DeletePrefix,
    /// Track the given keys, or with `prefix` every key starting with them.
    Track {
        /// `-T` rather than `-t`.
        prefix: bool,
    },
    /// Apply a settings file.
    Load(PathBuf),
    /// Clear a group of statistics.
    ClearStats(String),
}

impl Action {
    /// The action the flags ask for (clap lets at most one through).
    pub fn from_args(args: &CmapctlArgs) -> Self {
        if args.get {
            Self::Get
        } else if args.set {
            Self::Set
        } else if args.delete {
            Self::Delete
        } else if args.delete_prefix {
            Self::DeletePrefix
        } else if args.track || args.track_prefix {
            Self::Track {
                prefix: args.track_prefix,
            }
        } else if let Some(file) = &args.load {
            Self::Load(file.clone())
        } else if let Some(what) = &args.clear_stats {
            Self::ClearStats(what.clone())
        } else {
            Self::Print
        }
    }
}

/// How keys are printed, from the flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Format {
    /// `-b`: print binary values.
    pub binary: bool,
    /// `-q`: values only.
    pub quiet: bool,
    /// `--json`.
    pub json: bool,
}

/// A failure that ends the tool: its message for stderr (corosync's words) and exit 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fatal(pub String);

/// Runs the tool. Exit 0 on success, 1 as corosync-cmapctl would.
pub fn run(args: CmapctlArgs) -> anyhow::Result<ExitCode> {
    match execute(&args) {
        Ok(code) => Ok(code),
        Err(Fatal(message)) => {
            eprintln!("{message}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn execute(args: &CmapctlArgs) -> Result<ExitCode, Fatal> {
    let action = Action::from_args(args);
    let format = Format {
        binary: args.binary,
        quiet: args.quiet,
        json: args.json,
    };
    let mut map = match args.map.as_deref() {
        None | Some("icmap" | "default") => Map::Default,
        Some("stats") => Map::Stats,
        Some(_) => {
            return Err(Fatal(
                "invalid map name, must be 'default', 'icmap' or 'stats'".into(),
            ));
        }
    };
    if let Action::ClearStats(what) = &action {
        if !["knet", "totem", "ipc", "schedmiss", "all"].contains(&what.as_str()) {
            return Err(Fatal(
                "argument to -C should be 'knet', 'totem', 'ipc', 'schedmiss' or 'all'".into(),
            ));
        }
        map = Map::Stats;
    }
    let keyless = matches!(
        action,
        Action::Print | Action::Load(_) | Action::ClearStats(_)
    );
    if args.params.is_empty() && !keyless {
        return Err(Fatal("Expected key after options".into()));
    }
    let mut cmap = connect(&args.ipc_prefix, map)?;
    let out = io::stdout();
    let mut out = BufWriter::new(out.lock());
    let result = match &action {
        Action::Print => print_prefixes(&mut cmap, &args.params, format, &mut out),
        Action::Get => get_keys(&mut cmap, &args.params, format, &mut out),
        Action::Set => set_from_args(&mut cmap, &args.params),
        Action::Delete => delete_keys(&mut cmap, &args.params),
        Action::DeletePrefix => {
            for prefix in &args.params {
                delete_with_prefix(&mut cmap, prefix)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Action::Track { prefix } => {
            track_changes(&mut cmap, &args.params, *prefix, format, &mut out)
        }
        Action::Load(file) => load(&mut cmap, file),
        Action::ClearStats(what) => {
            let key = format!("stats.clear.{what}");
            match cmap.set(&key, 1u32) {
                Ok(()) => Ok(ExitCode::SUCCESS),
                Err(e) => Err(Fatal(format!(
                    "Can't set cmap stats clear key {key}. Error {}",
                    cs::strerror(&e)
                ))),
            }
        }
    };
    // Output already written stays written, also when a later key fails (as in C).
    match out.flush() {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            return Err(Fatal(format!("ais-cmapctl: {e}")));
        }
        _ => {}
    }
    result
}

/// `cmap_initialize_map`, retried while the daemon says "try again", as corosync does.
fn connect(ipc_prefix: &str, map: Map) -> Result<Cmap, Fatal> {
    let options = Options::with_prefix(ipc_prefix);
    let mut tries = 0;
    loop {
        match Cmap::connect_map(&options, map) {
            Ok(cmap) => return Ok(cmap),
            Err(Error::TryAgain) if tries < CONNECT_TRIES => {
                tries += 1;
                std::thread::sleep(Duration::from_secs(1));
            }
            Err(e) => {
                return Err(Fatal(format!(
                    "Failed to initialize the cmap API. Error {}",
                    cs::strerror(&e)
                )));
            }
        }
    }
}

/// Writes to stdout; a closed pipe (`| head`) ends the output quietly, as SIGPIPE ends
/// corosync-cmapctl.
fn emit(out: &mut dyn Write, bytes: &[u8]) -> Result<(), Fatal> {
    match out.write_all(bytes) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Fatal(format!("ais-cmapctl: {e}"))),
    }
}

/// No action flag: every key with each prefix (all keys without one). Exit 1 when no
/// prefix matched anything, as corosync's `count_of_no_result >= argc`.
fn print_prefixes(
    cmap: &mut Cmap,
    prefixes: &[String],
    format: Format,
    out: &mut dyn Write,
) -> Result<ExitCode, Fatal> {
    // corosync compares the misses with argc, 0 when listing everything.
    let argc = prefixes.len();
    let all = [String::new()];
    let prefixes = if prefixes.is_empty() {
        &all[..]
    } else {
        prefixes
    };
    let mut no_result = 0;
    for prefix in prefixes {
        let keys = cmap.iter(prefix).map_err(|e| {
            Fatal(format!(
                "Failed to initialize iteration. Error {}",
                cs::strerror(&e)
            ))
        })?;
        if keys.is_empty() {
            no_result += 1;
        }
        for info in &keys {
            match fetch(cmap, info, format.binary) {
                Ok(value) => emit(out, &key_line(&info.key, &value, format))?,
                Err(e) => eprintln!(
                    "Can't get value of {}. Error {}",
                    info.key,
                    cs::strerror(&e)
                ),
            }
        }
    }
    if no_result > 0 && no_result >= argc {
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// A listed key's value, read as corosync-cmapctl reads it: fixed-size types with one
/// typed GET, binary values only when they are shown.
fn fetch(cmap: &mut Cmap, info: &KeyInfo, binary: bool) -> ais_client::Result<CmapValue> {
    use value_type as t;
    let key = info.key.as_str();
    Ok(match info.value_type {
        t::INT8 => CmapValue::I8(cmap.get_i8(key)?),
        t::UINT8 => CmapValue::U8(cmap.get_u8(key)?),
        t::INT16 => CmapValue::I16(cmap.get_i16(key)?),
        t::UINT16 => CmapValue::U16(cmap.get_u16(key)?),
        t::INT32 => CmapValue::I32(cmap.get_i32(key)?),
        t::UINT32 => CmapValue::U32(cmap.get_u32(key)?),
        t::INT64 => CmapValue::I64(cmap.get_i64(key)?),
        t::UINT64 => CmapValue::U64(cmap.get_u64(key)?),
        t::FLOAT => CmapValue::Float(cmap.get_float(key)?),
        t::DOUBLE => CmapValue::Double(cmap.get_double(key)?),
        t::BINARY if !binary => CmapValue::Binary(Vec::new()),
        _ => cmap.get(key)?,
    })
}

/// `-g`: each key in turn; the first missing one ends the tool.
fn get_keys(
    cmap: &mut Cmap,
    keys: &[String],
    format: Format,
    out: &mut dyn Write,
) -> Result<ExitCode, Fatal> {
    for key in keys {
        match cmap.get(key) {
            Ok(value) => emit(out, &key_line(key, &value, format))?,
            Err(e) => {
                return Err(Fatal(format!(
                    "Can't get key {key}. Error {}",
                    cs::strerror(&e)
                )));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn set_from_args(cmap: &mut Cmap, params: &[String]) -> Result<ExitCode, Fatal> {
    let [key, type_name, text, ..] = params else {
        return Err(Fatal("At least 3 parameters are expected for set".into()));
    };
    set_key(cmap, key, type_name, text)?;
    Ok(ExitCode::SUCCESS)
}

/// corosync's `set_key`: parse, then set; a `bin` value is read from the file named (or
/// stdin for `-`).
fn set_key(cmap: &mut Cmap, key: &str, type_name: &str, text: &str) -> Result<(), Fatal> {
    let value = if type_name == "bin" {
        CmapValue::Binary(read_binary(text)?)
    } else {
        parse_value(type_name, text).map_err(Fatal)?
    };
    cmap.set(key, value).map_err(|e| {
        Fatal(format!(
            "Failed to set key {key}. Error {}",
            cs::strerror(&e)
        ))
    })
}

fn read_binary(file: &str) -> Result<Vec<u8>, Fatal> {
    let mut bytes = Vec::new();
    let read = if file == "-" {
        io::stdin().lock().read_to_end(&mut bytes).map(drop)
    } else {
        std::fs::read(file).map(|b| bytes = b)
    };
    read.map_err(|e| Fatal(format!("Can't open input file: {}", os_error_text(&e))))?;
    Ok(bytes)
}

/// `perror`'s text for an I/O error: strerror without Rust's " (os error N)".
fn os_error_text(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(end) => text[..end].to_owned(),
        None => text,
    }
}

/// Parses TEXT as a value of a cmapctl type as corosync's `set_key` does: `sscanf` with
/// `%ld`, `%lu`, `%f` or `%lf` (leading blanks, a sign, the longest number prefix; the
/// rest is ignored), then a range check. The errors are corosync's messages. `bin` is the
/// caller's business: its text names a file.
pub fn parse_value(type_name: &str, text: &str) -> Result<CmapValue, String> {
    let invalid = || format!("{text} is not valid {type_name} type value");
    let range = |short: &str| format!("{text} is not valid {short} integer");
    let signed = || scan_i64(text).ok_or_else(invalid);
    let unsigned = || scan_u64(text).ok_or_else(invalid);
    Ok(match type_name {
        "i8" => CmapValue::I8(signed()?.try_into().map_err(|_| range("i8"))?),
        "i16" => CmapValue::I16(signed()?.try_into().map_err(|_| range("i16"))?),
        "i32" => CmapValue::I32(signed()?.try_into().map_err(|_| range("i32"))?),
        "i64" => CmapValue::I64(signed()?),
        "u8" => CmapValue::U8(unsigned()?.try_into().map_err(|_| range("u8"))?),
        "u16" => CmapValue::U16(unsigned()?.try_into().map_err(|_| range("u16"))?),
        "u32" => CmapValue::U32(unsigned()?.try_into().map_err(|_| range("u32"))?),
        "u64" => CmapValue::U64(unsigned()?),
        "flt" => CmapValue::Float(scan_float(text).ok_or_else(invalid)?),
        "dbl" => CmapValue::Double(scan_float(text).ok_or_else(invalid)?),
        "str" => CmapValue::Str(text.as_bytes().to_vec()),
        "bin" => CmapValue::Binary(text.as_bytes().to_vec()),
        _ => return Err(format!("Unknown type {type_name}")),
    })
}

/// `sscanf("%ld")`: glibc's `strtol` saturates on overflow.
fn scan_i64(text: &str) -> Option<i64> {
    let (negative, digits, _) = cs::split_number(text)?;
    let magnitude: u128 = digits.parse().unwrap_or(u128::MAX);
    Some(if negative {
        i64::try_from(-(magnitude.min(1 << 64) as i128)).unwrap_or(i64::MIN)
    } else {
        i64::try_from(magnitude).unwrap_or(i64::MAX)
    })
}

/// `sscanf("%lu")`: glibc's `strtoul` saturates on overflow and negates a negative value
/// modulo 2^64 (`-1` is 18446744073709551615).
fn scan_u64(text: &str) -> Option<u64> {
    let (negative, digits, _) = cs::split_number(text)?;
    let Ok(magnitude) = digits.parse::<u64>() else {
        return Some(u64::MAX);
    };
    Some(if negative {
        magnitude.wrapping_neg()
    } else {
        magnitude
    })
}

/// `sscanf("%f")`: the longest prefix (after blanks) that is a number.
fn scan_float<F: std::str::FromStr>(text: &str) -> Option<F> {
    let text = text.trim_start_matches(cs::is_c_space);
    (1..=text.len())
        .rev()
        .filter(|&end| text.is_char_boundary(end))
        .find_map(|end| {
            let prefix = &text[..end];
            // Rust reads "1e" and "e5" as errors and C as "1" and nothing: the same here,
            // except that Rust also takes a bare "infinity"/"nan", as C does.
            prefix.parse::<F>().ok()
        })
}

/// `-d`: each key in turn; the first failure ends the tool.
fn delete_keys(cmap: &mut Cmap, keys: &[String]) -> Result<ExitCode, Fatal> {
    for key in keys {
        cmap.delete(key).map_err(|e| {
            Fatal(format!(
                "Can't delete key {key}. Error {}",
                cs::strerror(&e)
            ))
        })?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `-D` and `^^` lines: every key with the prefix; a key that cannot be deleted is
/// reported and the others are still deleted.
fn delete_with_prefix(cmap: &mut Cmap, prefix: &str) -> Result<(), Fatal> {
    let keys = cmap.iter(prefix).map_err(|e| {
        Fatal(format!(
            "Failed to initialize iteration. Error {}",
            cs::strerror(&e)
        ))
    })?;
    for info in keys {
        if let Err(e) = cmap.delete(&info.key) {
            eprintln!("Can't delete key {}. Error {}", info.key, cs::strerror(&e));
        }
    }
    Ok(())
}

/// One meaningful line of a `-p` settings file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadLine {
    /// `^KEY`.
    Delete(String),
    /// `^^PREFIX`.
    DeletePrefix(String),
    /// `KEY TYPE VALUE` (anything after VALUE is ignored).
    Set {
        /// The key.
        key: String,
        /// Its cmapctl type name.
        type_name: String,
        /// The value's text (one word: corosync splits at spaces).
        value: String,
    },
    /// A key without type or value: corosync stops there.
    Incomplete(String),
}

/// Reads a settings file as corosync's `read_in_config_file` does: blank lines and lines
/// whose first non-blank is `#` are skipped; words are separated by spaces only (a tab is
/// part of a word).
pub fn parse_load_file(text: &str) -> Vec<LoadLine> {
    let mut lines = Vec::new();
    for line in text.lines() {
        let line = line.trim_start_matches([' ', '\t']);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split(' ').filter(|w| !w.is_empty());
        let Some(key) = words.next() else {
            continue;
        };
        if let Some(prefix) = key.strip_prefix("^^") {
            lines.push(LoadLine::DeletePrefix(prefix.to_owned()));
        } else if let Some(key) = key.strip_prefix('^') {
            lines.push(LoadLine::Delete(key.to_owned()));
        } else {
            match (words.next(), words.next()) {
                (Some(type_name), Some(value)) => lines.push(LoadLine::Set {
                    key: key.to_owned(),
                    type_name: type_name.to_owned(),
                    value: value.to_owned(),
                }),
                _ => lines.push(LoadLine::Incomplete(key.to_owned())),
            }
        }
    }
    lines
}

/// `-p FILE`: applies each line in order; a failed set or an incomplete line ends the tool,
/// a failed delete is reported and the rest applied (as in corosync).
fn load(cmap: &mut Cmap, file: &PathBuf) -> Result<ExitCode, Fatal> {
    let text = std::fs::read(file)
        .map_err(|e| Fatal(format!("Couldn't open file.: {}", os_error_text(&e))))?;
    for line in parse_load_file(&String::from_utf8_lossy(&text)) {
        match line {
            LoadLine::Delete(key) => {
                if let Err(e) = cmap.delete(&key) {
                    eprintln!("Can't delete key {key}. Error {}", cs::strerror(&e));
                }
            }
            LoadLine::DeletePrefix(prefix) => delete_with_prefix(cmap, &prefix)?,
            LoadLine::Set {
                key,
                type_name,
                value,
            } => set_key(cmap, &key, &type_name, &value)?,
            LoadLine::Incomplete(key) => {
                return Err(Fatal(format!(
                    "Both type and value for key {key} are required"
                )));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `-t`/`-T`: tracks the keys, then prints each change until a `q` line on stdin or the
/// tool is killed.
fn track_changes(
    cmap: &mut Cmap,
    keys: &[String],
    prefix: bool,
    format: Format,
    out: &mut dyn Write,
) -> Result<ExitCode, Fatal> {
    let mut track_type = track::ADD | track::DELETE | track::MODIFY;
    if prefix {
        track_type |= track::PREFIX;
    }
    for key in keys {
        cmap.track_add(key, track_type).map_err(|e| {
            Fatal(format!(
                "Failed to add tracking function. Error {}",
                cs::strerror(&e)
            ))
        })?;
    }
    if format.json {
        eprintln!("Type \"q\" to finish");
    } else {
        emit(out, b"Type \"q\" to finish\n")?;
    }
    flush(out)?;
    let stdin = io::stdin();
    let mut stdin_open = true;
    loop {
        if !cmap.pending() {
            let (cmap_ready, stdin_ready) = wait_readable(cmap, stdin_open)?;
            if stdin_ready {
                let mut line = String::new();
                match stdin.lock().read_line(&mut line) {
                    // End of input: keep tracking until killed (corosync stops here).
                    Ok(0) | Err(_) => stdin_open = false,
                    Ok(_) if line.starts_with('q') => return Ok(ExitCode::SUCCESS),
                    Ok(_) => {}
                }
            }
            if !cmap_ready {
                continue;
            }
        }
        let mut changes = Vec::new();
        let dispatched = cmap.dispatch(Dispatch::All, &mut |n| {
            changes.push(n);
            ControlFlow::Continue(())
        });
        for n in changes {
            let value = match n.change {
                Change::Deleted => n.old,
                _ => n.new,
            };
            let value = match value {
                Some(value) => value,
                // No value in the event: read it, as corosync's print_key does.
                None => match cmap.get(&n.key) {
                    Ok(value) => value,
                    Err(e) => {
                        eprintln!("Can't get value of {}. Error {}", n.key, cs::strerror(&e));
                        continue;
                    }
                },
            };
            emit(out, &change_line(n.change, &n.key, &value, format))?;
        }
        flush(out)?;
        if let Err(e) = dispatched {
            return Err(Fatal(format!("Dispatch error {}", cs::strerror(&e))));
        }
    }
}

fn flush(out: &mut dyn Write) -> Result<(), Fatal> {
    match out.flush() {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Fatal(format!("ais-cmapctl: {e}"))),
    }
}

/// `poll` on the cmap connection and, while it is open, stdin: which are readable.
fn wait_readable(cmap: &Cmap, stdin_open: bool) -> Result<(bool, bool), Fatal> {
    use rustix::event::{PollFd, PollFlags, poll};
    // SAFETY: the fd belongs to `cmap`, which outlives this borrow.
    let cmap_fd = unsafe { BorrowedFd::borrow_raw(cmap.fd()) };
    let stdin = io::stdin();
    let stdin_fd = stdin.as_fd();
    let mut fds = vec![PollFd::new(&cmap_fd, PollFlags::IN)];
    if stdin_open {
        fds.push(PollFd::new(&stdin_fd, PollFlags::IN));
    }
    loop {
        match poll(&mut fds, None) {
            Ok(_) => break,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(Fatal(format!("poll: {e}"))),
        }
    }
    let ready = |fd: &PollFd<'_>| !fd.revents().is_empty();
    Ok((ready(&fds[0]), fds.get(1).is_some_and(ready)))
}

/// One key as corosync-cmapctl's `print_key` prints it (`key (u32) = 5000`, with `-q` just
/// `5000`, a binary value only with `-b`), or with `--json` one object.
pub fn key_line(key: &str, value: &CmapValue, format: Format) -> Vec<u8> {
    if format.json {
        return json_line(None, key, value);
    }
    let mut out = Vec::new();
    if !format.quiet {
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b" (");
    }
    let text = match value {
        CmapValue::I8(v) => v.to_string(),
        CmapValue::U8(v) => v.to_string(),
        CmapValue::I16(v) => v.to_string(),
        CmapValue::U16(v) => v.to_string(),
        CmapValue::I32(v) => v.to_string(),
        CmapValue::U32(v) => v.to_string(),
        CmapValue::I64(v) => v.to_string(),
        CmapValue::U64(v) => v.to_string(),
        CmapValue::Float(v) => cs::c_float(f64::from(*v)),
        CmapValue::Double(v) => cs::c_float(*v),
        CmapValue::Str(s) => {
            if !format.quiet {
                out.extend_from_slice(b"str) = ");
            }
            // printf("%s") stops at the first NUL.
            let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
            out.extend_from_slice(&s[..end]);
            out.push(b'\n');
            return out;
        }
        CmapValue::Binary(b) => {
            // corosync prints "bin)" even with -q.
            out.extend_from_slice(b"bin)");
            if format.binary {
                out.extend_from_slice(b" = ");
                binary_bytes(&mut out, b);
            }
            out.push(b'\n');
            return out;
        }
    };
    if !format.quiet {
        out.extend_from_slice(value.type_name().as_bytes());
        out.extend_from_slice(b") = ");
    }
    out.extend_from_slice(text.as_bytes());
    out.push(b'\n');
    out
}

/// A tracked change as corosync-cmapctl prints it: `create> `, `delete> ` or `modify> `,
/// then the key (with the old value after a delete).
pub fn change_line(change: Change, key: &str, value: &CmapValue, format: Format) -> Vec<u8> {
    let event = match change {
        Change::Added => "create",
        Change::Deleted => "delete",
        Change::Modified => "modify",
        // corosync prints this and no newline.
        Change::Other(_) => "unknown change",
    };
    if format.json {
        return json_line(Some(event), key, value);
    }
    let mut out = format!("{event}> ").into_bytes();
    if !matches!(change, Change::Other(_)) {
        out.extend_from_slice(&key_line(key, value, format));
    }
    out
}

/// A value in `--json` output: numbers as numbers, strings as strings (invalid UTF-8
/// replaced), binary values as arrays of bytes.
#[derive(Serialize)]
#[serde(untagged)]
enum JsonValue<'a> {
    Signed(i64),
    Unsigned(u64),
    Float(f64),
    Text(String),
    Bytes(&'a [u8]),
}

#[derive(Serialize)]
struct JsonKey<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<&'a str>,
    key: &'a str,
    #[serde(rename = "type")]
    type_name: &'a str,
    value: JsonValue<'a>,
}

fn json_line(event: Option<&str>, key: &str, value: &CmapValue) -> Vec<u8> {
    let json_value = match value {
        CmapValue::I8(v) => JsonValue::Signed((*v).into()),
        CmapValue::I16(v) => JsonValue::Signed((*v).into()),
        CmapValue::I32(v) => JsonValue::Signed((*v).into()),
        CmapValue::I64(v) => JsonValue::Signed(*v),
        CmapValue::U8(v) => JsonValue::Unsigned((*v).into()),
        CmapValue::U16(v) => JsonValue::Unsigned((*v).into()),
        CmapValue::U32(v) => JsonValue::Unsigned((*v).into()),
        CmapValue::U64(v) => JsonValue::Unsigned(*v),
        CmapValue::Float(v) => JsonValue::Float((*v).into()),
        CmapValue::Double(v) => JsonValue::Float(*v),
        CmapValue::Str(s) => JsonValue::Text(String::from_utf8_lossy(s).into_owned()),
        CmapValue::Binary(b) => JsonValue::Bytes(b),
    };
    let object = JsonKey {
        event,
        key,
        type_name: value.type_name(),
        value: json_value,
    };
    // Serialising plain data into a Vec cannot fail; a non-finite float becomes null.
    let mut out = serde_json::to_vec(&object).unwrap_or_default();
    out.push(b'\n');
    out
}

/// corosync's `print_binary_key`: printable ASCII as is, a backslash doubled, anything
/// else as `\xHH`. It formats a plain (signed on x86_64) `char` with `%02X`, so bytes from
/// 0x80 up print sign-extended, `\xFFFFFFHH`; reproduced for byte-exact output.
pub fn binary_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    for &c in bytes {
        if (b' '..0x7f).contains(&c) && c != b'\\' {
            out.push(c);
        } else if c == b'\\' {
            out.extend_from_slice(b"\\\\");
        } else {
            let wide = i32::from(c as i8) as u32;
            out.extend_from_slice(format!("\\x{wide:02X}").as_bytes());
        }
    }
}

#[cfg(test)]
mod tests;
