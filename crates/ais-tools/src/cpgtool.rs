//! `ais-cpgtool`: lists CPG groups and their members, with the flags and the output of
//! corosync 3.1.7's `corosync-cpgtool`, byte for byte, so scripts that parse it keep
//! working.
//!
//! Like `corosync-cpgtool`, it asks the cfg service for each member's node addresses, printed
//! in the parentheses. One difference: when cfg cannot be opened, `corosync-cpgtool` exits
//! with an error, while this tool prints empty parentheses (what `corosync-cpgtool` prints
//! when one node's lookup fails), since the groups are what was asked for.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

use ais_client::Options;
use ais_client::cfg::Cfg;
use ais_client::cpg::{Cpg, Iteration, IterationEntry};
use ais_types::NodeId;

/// Display CPG groups and their members.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "ais-cpgtool", version, about)]
pub struct CpgtoolArgs {
    /// Delimiter between fields: one line per member (group, pid, node id), or with -n all
    /// group names on one line. Only the first character counts.
    #[arg(short = 'd', long = "delimiter", value_name = "DELIM")]
    pub delimiter: Option<String>,
    /// Don't escape unprintable characters in group names.
    #[arg(short = 'e', long = "no-escape")]
    pub no_escape: bool,
    /// Display only the names of all existing groups.
    #[arg(short = 'n', long = "names-only")]
    pub names_only: bool,
    /// Prefix of the daemon's IPC names ("" is corosync's).
    #[arg(
        long,
        value_name = "PREFIX",
        env = "AIS_IPC_PREFIX",
        default_value = ""
    )]
    pub ipc_prefix: String,
    /// Machine-readable output, one JSON object per member (per group with -n).
    #[arg(long)]
    pub json: bool,
}

/// How to print, from the flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Format {
    /// `-d`: the delimiter byte, if any (corosync takes the first byte; an empty `-d ""`
    /// means none).
    pub delimiter: Option<u8>,
    /// Escape unprintable bytes and backslashes in group names (unless `-e`).
    pub escape: bool,
}

impl Format {
    /// The format the flags ask for.
    pub fn from_args(args: &CpgtoolArgs) -> Self {
        Self {
            delimiter: args
                .delimiter
                .as_deref()
                .and_then(|d| d.as_bytes().first().copied()),
            escape: !args.no_escape,
        }
    }
}

/// Lists the groups of the local daemon. Exit 1 when the daemon cannot be reached or
/// answers an error.
pub fn run(args: CpgtoolArgs) -> anyhow::Result<ExitCode> {
    let format = Format::from_args(&args);
    let (listing, addrs) = match query(&args) {
        Ok(entries) => entries,
        Err(e) => {
            eprintln!("ais-cpgtool: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let out = if args.json {
        json(&listing, args.names_only)
    } else if args.names_only {
        names(&listing, format)
    } else {
        let lookup = |nodeid: NodeId| addrs.get(&nodeid).cloned().unwrap_or_default();
        members(&listing, format, &lookup)
    };
    std::io::stdout().lock().write_all(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// The iteration, and the addresses of its nodes when the listing shows them.
type Listing = (Vec<IterationEntry>, BTreeMap<NodeId, Vec<String>>);

fn query(args: &CpgtoolArgs) -> ais_client::Result<Listing> {
    let options = Options::with_prefix(&args.ipc_prefix);
    let mut cpg = Cpg::connect(&options)?;
    let what = if args.names_only {
        Iteration::NameOnly
    } else {
        Iteration::All
    };
    let entries = cpg.iterate(what)?;
    cpg.finalize()?;
    let mut addrs = BTreeMap::new();
    let shows_addrs = !args.names_only && !args.json && args.delimiter.is_none();
    if let (true, Ok(mut cfg)) = (shows_addrs, Cfg::connect(&options)) {
        for entry in &entries {
            if addrs.contains_key(&entry.nodeid) {
                continue;
            }
            // A failed lookup prints "()", as in corosync-cpgtool.
            if let Ok(found) = cfg.node_addrs(entry.nodeid) {
                let found: Vec<String> = found.iter().map(ToString::to_string).collect();
                addrs.insert(entry.nodeid, found);
            }
        }
    }
    Ok((entries, addrs))
}

/// `-n`: each group name followed by the delimiter (one line in all) or a newline.
pub fn names(entries: &[IterationEntry], format: Format) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in entries {
        group_name(&mut out, &entry.group, format.escape);
        out.push(format.delimiter.unwrap_or(b'\n'));
    }
    if format.delimiter.is_some() {
        out.push(b'\n');
    }
    out
}

/// The default listing: a header, then each group's name on a line of its own followed by
/// one line per member with pid, node id and the node's addresses (from `addrs`); with a
/// delimiter, one `group<d>pid<d>nodeid` line per member instead.
pub fn members(
    entries: &[IterationEntry],
    format: Format,
    addrs: &dyn Fn(NodeId) -> Vec<String>,
) -> Vec<u8> {
    let mut out = Vec::new();
    match format.delimiter {
        Some(d) => {
            let d = char::from(d);
            out.extend_from_slice(format!("GRP_NAME{d}PID{d}NODEID\n").as_bytes());
        }
        None => out.extend_from_slice(
            format!("Group Name\t{:>10}\t{:>10}\n", "PID", "Node ID").as_bytes(),
        ),
    }
    // corosync compares with the previous entry's group, starting from an empty name.
    let mut previous: &[u8] = b"";
    for entry in entries {
        match format.delimiter {
            Some(d) => {
                group_name(&mut out, &entry.group, format.escape);
                let d = char::from(d);
                let line = format!("{d}{}{d}{}\n", entry.pid, entry.nodeid);
                out.extend_from_slice(line.as_bytes());
            }
            None => {
                if entry.group != previous {
                    group_name(&mut out, &entry.group, format.escape);
                    out.push(b'\n');
                    previous = &entry.group;
                }
                let addrs = addrs(entry.nodeid).join(" ");
                let line = format!("\t\t{:>10}\t{:>10} ({addrs})\n", entry.pid, entry.nodeid.0);
                out.extend_from_slice(line.as_bytes());
            }
        }
    }
    out
}

/// `--json`: one object per line, `{"group":…,"pid":…,"nodeid":…}` per member, or
/// `{"group":…}` per group with `-n`. Names that are not UTF-8 are converted lossily.
pub fn json(entries: &[IterationEntry], names_only: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in entries {
        let group = String::from_utf8_lossy(&entry.group);
        let value = if names_only {
            serde_json::json!({ "group": group })
        } else {
            serde_json::json!({ "group": group, "pid": entry.pid, "nodeid": entry.nodeid.0 })
        };
        out.extend_from_slice(value.to_string().as_bytes());
        out.push(b'\n');
    }
    out
}

/// Appends a group name, escaped as `corosync-cpgtool` escapes it: printable ASCII as is,
/// a backslash doubled, anything else as `\xHH`. corosync formats a plain (signed on
/// x86_64) `char` with `%02X`, so bytes from 0x80 up print sign-extended, `\xFFFFFFHH`;
/// reproduced for byte-exact output.
pub fn group_name(out: &mut Vec<u8>, name: &[u8], escape: bool) {
    for &c in name {
        if !escape || ((b' '..0x7f).contains(&c) && c != b'\\') {
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
mod tests {
    use clap::Parser;

    use super::*;

    fn entry(group: &[u8], nodeid: u32, pid: u32) -> IterationEntry {
        IterationEntry {
            group: group.to_vec(),
            nodeid: NodeId(nodeid),
            pid,
        }
    }

    fn listing() -> Vec<IterationEntry> {
        vec![
            entry(b"crmd", 1, 1234),
            entry(b"crmd", 2, 987654),
            entry(b"a\\b\x01", 3, 7),
        ]
    }

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).unwrap()
    }

    const PLAIN: Format = Format {
        delimiter: None,
        escape: true,
    };

    #[test]
    fn default_layout_matches_corosync_cpgtool() {
        let addrs = |n: NodeId| vec![format!("127.0.0.{}", n.0)];
        assert_eq!(
            text(members(&listing(), PLAIN, &addrs)),
            "Group Name\t       PID\t   Node ID\n\
             crmd\n\
             \t\t      1234\t         1 (127.0.0.1)\n\
             \t\t    987654\t         2 (127.0.0.2)\n\
             a\\\\b\\x01\n\
             \t\t         7\t         3 (127.0.0.3)\n"
        );
    }

    #[test]
    fn without_addresses_the_parentheses_stay_empty() {
        assert_eq!(
            text(members(&listing()[..1], PLAIN, &|_| Vec::new())),
            "Group Name\t       PID\t   Node ID\ncrmd\n\t\t      1234\t         1 ()\n"
        );
        let two = |_| vec!["10.0.0.1".to_string(), "fe80::1".to_string()];
        assert!(text(members(&listing()[..1], PLAIN, &two)).ends_with("(10.0.0.1 fe80::1)\n"));
    }

    #[test]
    fn an_empty_listing_prints_only_the_header() {
        assert_eq!(
            text(members(&[], PLAIN, &|_| Vec::new())),
            "Group Name\t       PID\t   Node ID\n"
        );
    }

    #[test]
    fn a_delimiter_prints_one_line_per_member() {
        let format = Format {
            delimiter: Some(b':'),
            escape: true,
        };
        assert_eq!(
            text(members(&listing(), format, &|_| Vec::new())),
            "GRP_NAME:PID:NODEID\ncrmd:1234:1\ncrmd:987654:2\na\\\\b\\x01:7:3\n"
        );
    }

    #[test]
    fn names_only_with_and_without_delimiter() {
        let groups = [entry(b"crmd", 0, 0), entry(b"attrd", 0, 0)];
        assert_eq!(text(names(&groups, PLAIN)), "crmd\nattrd\n");
        let comma = Format {
            delimiter: Some(b','),
            escape: true,
        };
        assert_eq!(text(names(&groups, comma)), "crmd,attrd,\n");
        assert_eq!(text(names(&[], comma)), "\n");
        assert_eq!(text(names(&[], PLAIN)), "");
    }

    #[test]
    fn escaping_follows_corosync_including_sign_extension() {
        let mut out = Vec::new();
        group_name(&mut out, b"ok \\ \x7f\x1f\xc3", true);
        assert_eq!(text(out), "ok \\\\ \\x7F\\x1F\\xFFFFFFC3");
        let mut raw = Vec::new();
        group_name(&mut raw, b"a\\\x01\xc3", false);
        assert_eq!(raw, b"a\\\x01\xc3");
    }

    #[test]
    fn json_prints_one_object_per_line() {
        assert_eq!(
            text(json(&listing()[..2], false)),
            "{\"group\":\"crmd\",\"nodeid\":1,\"pid\":1234}\n\
             {\"group\":\"crmd\",\"nodeid\":2,\"pid\":987654}\n"
        );
        assert_eq!(text(json(&listing()[..1], true)), "{\"group\":\"crmd\"}\n");
    }

    #[test]
    fn flags_parse_like_corosync() {
        let args = CpgtoolArgs::try_parse_from(["ais-cpgtool", "-d", ";;", "-e", "-n"]).unwrap();
        assert_eq!(
            Format::from_args(&args),
            Format {
                delimiter: Some(b';'),
                escape: false
            }
        );
        assert!(args.names_only);
        let empty = CpgtoolArgs::try_parse_from(["ais-cpgtool", "-d", ""]).unwrap();
        assert_eq!(Format::from_args(&empty).delimiter, None);
        let prefixed = CpgtoolArgs::try_parse_from(["ais-cpgtool", "--ipc-prefix", "n1-"]).unwrap();
        assert_eq!(prefixed.ipc_prefix, "n1-");
    }
}
