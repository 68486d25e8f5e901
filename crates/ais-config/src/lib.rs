//! corosync.conf into a typed [`Config`], with `file:line:column` diagnostics.
//!
//! Pure: [`parse`] takes the text and a file name to print in messages; this crate opens no
//! file and reads no environment. It runs in four passes, one module each:
//!
//! 1. `lexer`: one token per line, with its position (corosync's `coroparse.c` rules);
//! 2. `tree`: sections nested by braces;
//! 3. `lower`: every key through the table in `keys` (implemented, our extension, or
//!    accepted and ignored with a warning) into a typed `Config`;
//! 4. `validate`: the rules between keys (consensus ≥ 1.2 × token, one address per node per
//!    link, …), each pointing at the lines involved.
//!
//! Every error of a pass is reported, not just the first:
//!
//! ```
//! let text = "totem {\n\ttoken: fast\n\ttokn: 3000\n}\n";
//! let errors = ais_config::parse(text, "corosync.conf").unwrap_err();
//! assert_eq!(
//!     errors.to_string(),
//!     "corosync.conf:2:9: totem.token: expected milliseconds, found \"fast\"\n\
//!      corosync.conf:3:2: totem.tokn: unknown key \"tokn\" in totem; did you mean \"token\"?"
//! );
//! ```
//!
//! Where we differ from corosync: crypto is on by default (aes256 + sha256, see
//! [`Totem::crypto_cipher`]); the default transport is udpu, and knet runs as udpu with
//! knet's link settings; `totem.fail_fast` and `system.ipc_prefix` are ours.

mod config;
mod derive;
mod diagnostic;
mod flat;
mod keys;
mod keyword;
mod lexer;
mod lower;
mod print;
mod suggest;
mod tree;
mod validate;
mod value;

pub use config::{
    Account, Config, CryptoMode, Interface, IpcType, LoggerSubsys, Logging, MAX_LINKS, Node,
    NodeAddr, ProcessPriority, Quorum, System, TieBreaker, Totem, UidGid,
};
pub use derive::LocalNodeError;
pub use diagnostic::{ConfigErrors, Diagnostic};
pub use flat::{FlatValue, flatten};
pub use keys::{KeyStatus, KnownKey, known_keys};
pub use keyword::{
    Cipher, DebugLevel, Hash, IpVersion, KnetTransport, LinkMode, LogPriority, QuorumProvider,
    SyslogFacility, Timestamp, Transport,
};

use diagnostic::Diagnostics;

/// The embedded default configuration: one node on loopback (nodeid 1, 127.0.0.1, udpu),
/// logging to stderr, crypto at the secure default.
pub const DEFAULT_CONFIG: &str = include_str!("default.conf");

/// A configuration that parsed, with the warnings found on the way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed {
    /// The configuration.
    pub config: Config,
    /// Keys accepted but ignored, weak crypto, duplicate keys, … in file order.
    pub warnings: Vec<Diagnostic>,
}

/// Parses corosync.conf `text`; `file` names it in diagnostics.
///
/// Syntax errors and bad values are all collected. The cross-field rules run only when
/// there are none, so that one mistake does not cascade into others; fixing every reported
/// error may therefore reveal cross-field errors on the next run.
pub fn parse(text: &str, file: &str) -> Result<Parsed, ConfigErrors> {
    let mut diagnostics = Diagnostics::new(file);
    let root = tree::build(text, &mut diagnostics);
    let lowered = lower::lower(&root, &mut diagnostics);
    if !diagnostics.has_errors() {
        validate::check(&lowered.config, &lowered.sources, &mut diagnostics);
    }
    let (errors, warnings) = diagnostics.into_sorted();
    if errors.is_empty() {
        Ok(Parsed {
            config: lowered.config,
            warnings,
        })
    } else {
        Err(ConfigErrors { errors, warnings })
    }
}

/// A file of corosync's `uidgid.d/` directory: `uidgid {}` sections only, so none of the
/// cross-field rules of a whole configuration apply. Other sections are an error.
pub fn parse_uidgid(text: &str, file: &str) -> Result<UidGid, ConfigErrors> {
    let mut diagnostics = Diagnostics::new(file);
    let root = tree::build(text, &mut diagnostics);
    let lowered = lower::lower(&root, &mut diagnostics);
    let mut only_uidgid = lowered.config.clone();
    only_uidgid.uidgid = UidGid::default();
    if only_uidgid != Config::default() {
        diagnostics.error(
            diagnostic::Span::START,
            "",
            "only uidgid {} sections belong in a uidgid.d file",
        );
    }
    let (errors, warnings) = diagnostics.into_sorted();
    if errors.is_empty() {
        Ok(lowered.config.uidgid)
    } else {
        Err(ConfigErrors { errors, warnings })
    }
}

#[cfg(test)]
mod uidgid_tests {
    use super::*;

    #[test]
    fn uidgid_files_hold_only_uidgid_sections() {
        let u = parse_uidgid("uidgid {\n  uid: 1000\n  gid: haclient\n}\n", "x").unwrap();
        assert_eq!(u.uids, vec![Account::Id(1000)]);
        assert_eq!(u.gids, vec![Account::Name("haclient".into())]);
        let e = parse_uidgid("totem {\n  token: 5000\n}\n", "y").unwrap_err();
        assert!(e.to_string().contains("only uidgid"), "{e}");
        let e = parse_uidgid("uidgid {\n  uid: -\n}\n", "z").unwrap_err();
        assert!(e.to_string().starts_with("z:2:"), "{e}");
    }
}

/// [`DEFAULT_CONFIG`], parsed.
pub fn default_config() -> Config {
    match parse(DEFAULT_CONFIG, "default.conf") {
        Ok(parsed) => parsed.config,
        // A unit test parses the embedded text, so this is a build mistake.
        Err(errors) => panic!("the embedded default.conf does not parse:\n{errors}"),
    }
}

/// Bodies of the cargo-fuzz targets, also replayed over `fuzz/corpus/` by a plain test.
#[doc(hidden)]
pub mod fuzzing {
    /// Arbitrary bytes, read as lossy UTF-8, into [`crate::parse`]: must never panic.
    pub fn config_parse(data: &[u8]) {
        let text = String::from_utf8_lossy(data);
        let _ = crate::parse(&text, "fuzz.conf");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_default_parses_without_warnings() {
        let parsed = parse(DEFAULT_CONFIG, "default.conf").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed.warnings, []);
        let c = parsed.config;
        assert_eq!(c.totem.cluster_name.as_deref(), Some("ais"));
        assert_eq!(c.totem.transport, Transport::Udpu);
        assert_eq!(
            c.totem.crypto(),
            CryptoMode::Encrypted {
                cipher: Cipher::Aes256
            }
        );
        assert_eq!(c.nodelist.len(), 1);
        assert_eq!(c.nodelist[0].nodeid, 1);
        assert_eq!(
            c.nodelist[0].ring_addrs[0],
            Some(NodeAddr::Ip([127, 0, 0, 1].into()))
        );
        assert!(c.logging.to_stderr && !c.logging.to_syslog && !c.logging.to_logfile);
        assert_eq!(default_config(), c);
        let local = c.local_node(&[[127, 0, 0, 1].into()]).map(|n| n.nodeid);
        assert_eq!(local, Ok(1));
    }
}
