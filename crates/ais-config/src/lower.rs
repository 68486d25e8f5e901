//! Lowering: the syntax tree into a typed [`Config`], one key at a time through the table in
//! `keys.rs`. Each value is checked on its own here (type, range, spelling); rules between
//! values are `validate.rs`'s. Where every section and key came from is kept in [`Sources`]
//! for those rules to point at.

use std::collections::BTreeMap;

use crate::config::{Config, Interface, LoggerSubsys, Node};
use crate::diagnostic::{Diagnostics, Span};
use crate::keys::{self, KEYS, Repeat, SECTIONS, SectionId, Status};
use crate::keyword::{Cipher, Hash, IpVersion};
use crate::suggest::nearest;
use crate::tree::{Entry, Item, Section};
use crate::value::Expected;

/// The configuration being built, plus the inputs that only decide defaults at the end.
pub(crate) struct Draft {
    pub(crate) config: Config,
    /// `totem.secauth`: legacy shorthand for aes256 + sha256.
    pub(crate) secauth: Option<bool>,
    pub(crate) cipher: Option<Cipher>,
    pub(crate) hash: Option<Hash>,
    /// Its default depends on the transport, which may come later in the file.
    pub(crate) ip_version: Option<IpVersion>,
    /// Its default is `two_node`, which may come later in the file.
    pub(crate) wait_for_all: Option<bool>,
}

impl Draft {
    fn new() -> Self {
        Self {
            config: Config::default(),
            secauth: None,
            cipher: None,
            hash: None,
            ip_version: None,
            wait_for_all: None,
        }
    }

    /// The `interface {}` being read. Its setters run only inside one.
    pub(crate) fn interface(&mut self) -> &mut Interface {
        let interfaces = &mut self.config.totem.interfaces;
        interfaces
            .last_mut()
            .expect("interface keys are read inside an interface section")
    }

    /// The `node {}` being read.
    pub(crate) fn node(&mut self) -> &mut Node {
        let nodes = &mut self.config.nodelist;
        nodes
            .last_mut()
            .expect("node keys are read inside a node section")
    }

    /// The `logger_subsys {}` being read.
    pub(crate) fn subsys(&mut self) -> &mut LoggerSubsys {
        let subsys = &mut self.config.logging.logger_subsys;
        subsys
            .last_mut()
            .expect("logger_subsys keys are read inside a logger_subsys section")
    }

    /// Starts a new entry for a section that repeats as a list; returns its index.
    fn open_entry(&mut self, id: SectionId) -> usize {
        match id {
            SectionId::Interface => {
                self.config.totem.interfaces.push(Interface::default());
                self.config.totem.interfaces.len() - 1
            }
            SectionId::Node => {
                // nodeid 0 is reserved: it stands for "not given" until the section closes.
                let node = Node {
                    nodeid: 0,
                    name: None,
                    ring_addrs: Default::default(),
                    quorum_votes: None,
                };
                self.config.nodelist.push(node);
                self.config.nodelist.len() - 1
            }
            SectionId::LoggerSubsys => {
                self.config
                    .logging
                    .logger_subsys
                    .push(LoggerSubsys::default());
                self.config.logging.logger_subsys.len() - 1
            }
            _ => 0,
        }
    }

    /// Applies the defaults that depend on other keys.
    fn finish(self) -> Config {
        let mut config = self.config;
        let totem = &mut config.totem;
        // Secure by default, unlike corosync: see `Totem::crypto_cipher`.
        (totem.crypto_cipher, totem.crypto_hash) = match (self.cipher, self.hash, self.secauth) {
            (None, None, None) => (Cipher::Aes256, Hash::Sha256),
            (cipher, hash, Some(true)) => (
                cipher.unwrap_or(Cipher::Aes256),
                hash.unwrap_or(Hash::Sha256),
            ),
            (cipher, hash, _) => (cipher.unwrap_or(Cipher::None), hash.unwrap_or(Hash::None)),
        };
        totem.ip_version = self
            .ip_version
            .unwrap_or(IpVersion::default_for(totem.transport));
        config.quorum.wait_for_all = self.wait_for_all.unwrap_or(config.quorum.two_node);
        config
    }
}

/// Where each section and key was written. Sections that repeat as lists (`interface`,
/// `node`, `logger_subsys`) are told apart by their index in the `Config` list; the others
/// use index 0 and record their first occurrence.
#[derive(Debug, Default)]
pub(crate) struct Sources {
    sections: BTreeMap<(SectionId, usize), Span>,
    /// The position of each value, by the key's name in the table.
    values: BTreeMap<(SectionId, usize), BTreeMap<&'static str, Span>>,
}

impl Sources {
    /// Where section `id` (entry `index`) opens.
    pub(crate) fn section(&self, id: SectionId, index: usize) -> Option<Span> {
        self.sections.get(&(id, index)).copied()
    }

    /// Where the value of `key` in section `id` (entry `index`) starts, if it was given.
    pub(crate) fn value(&self, id: SectionId, index: usize, key: &str) -> Option<Span> {
        self.values.get(&(id, index))?.get(key).copied()
    }
}

/// The result of lowering: the configuration and where its parts came from.
pub(crate) struct Lowered {
    pub(crate) config: Config,
    pub(crate) sources: Sources,
}

/// Lowers the whole file. Errors and warnings go to `diagnostics`.
pub(crate) fn lower(root: &Section<'_>, diagnostics: &mut Diagnostics<'_>) -> Lowered {
    let mut walker = Walker {
        draft: Draft::new(),
        sources: Sources::default(),
        diagnostics,
    };
    walker.entries(root, None, "");
    let Walker { draft, sources, .. } = walker;
    Lowered {
        config: draft.finish(),
        sources,
    }
}

struct Walker<'d, 'f> {
    draft: Draft,
    sources: Sources,
    diagnostics: &'d mut Diagnostics<'f>,
}

impl Walker<'_, '_> {
    /// Reads the entries of a section at `path`; `at` is None for the top level.
    fn entries(&mut self, section: &Section<'_>, at: Option<(SectionId, usize)>, path: &str) {
        for entry in &section.entries {
            match entry {
                Entry::Item(item) => self.item(item, at, path),
                Entry::Section(inner) => self.section(inner, path),
            }
        }
    }

    fn item(&mut self, item: &Item<'_>, at: Option<(SectionId, usize)>, path: &str) {
        let full = join(path, item.key);
        let (Some((id, index)), Some(spec)) = (at, keys::find_key(path, item.key)) else {
            let message = unknown_key(item.key, path);
            self.diagnostics.error(item.key_at, &full, message);
            return;
        };
        let values = self.sources.values.entry((id, index)).or_default();
        let previous = values.insert(spec.name(), item.value_at);
        // uidgid keys add to lists; elsewhere a repeated key replaces, as in corosync.
        if let (Some(previous), false) = (previous, id == SectionId::Uidgid) {
            let message = format!(
                "duplicate key; replaces the value on line {}",
                previous.line
            );
            self.diagnostics.warning(item.key_at, &full, message);
        }
        match spec.status {
            Status::Implemented(set) | Status::Extension(set) => {
                if let Err(Expected(what)) = set(&mut self.draft, item.value) {
                    let message = format!("expected {what}, found {:?}", item.value);
                    self.diagnostics.error(item.value_at, &full, message);
                }
            }
            Status::Ignored => {
                self.diagnostics.warning(
                    item.key_at,
                    &full,
                    "accepted but not implemented; ignored",
                );
            }
        }
    }

    fn section(&mut self, section: &Section<'_>, parent: &str) {
        let path = join(parent, section.name);
        let Some(spec) = keys::find_section(parent, section.name) else {
            let message = unknown_section(section.name, parent);
            self.diagnostics.error(section.at, &path, message);
            return;
        };
        let index = match spec.repeat {
            Repeat::Ignore => {
                let message = "accepted but not implemented; ignored with everything inside it";
                self.diagnostics.warning(section.at, &path, message);
                return;
            }
            Repeat::Merge => 0,
            Repeat::Each => self.draft.open_entry(spec.id),
        };
        self.sources
            .sections
            .entry((spec.id, index))
            .or_insert(section.at);
        self.entries(section, Some((spec.id, index)), &path);
        self.close(spec.id, index, section.at, &path);
    }

    /// Checks the keys a list entry cannot do without.
    fn close(&mut self, id: SectionId, index: usize, at: Span, path: &str) {
        let required = match id {
            SectionId::Node => "nodeid",
            SectionId::LoggerSubsys => "subsys",
            _ => return,
        };
        if self.sources.value(id, index, required).is_none() {
            let name = keys::name_of(path);
            self.diagnostics.error(
                at,
                path,
                format!("{name} has no {required}; it is required"),
            );
        }
    }
}

fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}.{name}")
    }
}

/// `unknown key "tokn" in totem; did you mean "token"?`, or where the key belongs.
fn unknown_key(key: &str, section: &str) -> String {
    let mut message = if section.is_empty() {
        format!("key {key:?} outside any section")
    } else {
        format!("unknown key {key:?} in {section}")
    };
    if let Some(home) = KEYS
        .iter()
        .find(|k| k.name() == key && k.section() != section)
    {
        message.push_str(&format!("; it belongs in {}", home.section()));
    } else {
        let here = KEYS
            .iter()
            .filter(|k| k.section() == section)
            .map(|k| k.name());
        if let Some(near) = nearest(key, here) {
            message.push_str(&format!("; did you mean {near:?}?"));
        }
    }
    message
}

/// `unknown section "iface" in totem; did you mean "interface"?`, or where it belongs.
fn unknown_section(name: &str, parent: &str) -> String {
    let mut message = if parent.is_empty() {
        format!("unknown section {name:?} at the top level")
    } else {
        format!("unknown section {name:?} in {parent}")
    };
    let elsewhere = SECTIONS.iter().find(|s| keys::name_of(s.path) == name);
    if let Some(home) = elsewhere.filter(|s| keys::parent_of(s.path) != parent) {
        message.push_str(&format!(
            "; it belongs in {}",
            display_parent(keys::parent_of(home.path))
        ));
    } else {
        let here = SECTIONS
            .iter()
            .filter(|s| keys::parent_of(s.path) == parent);
        if let Some(near) = nearest(name, here.map(|s| keys::name_of(s.path))) {
            message.push_str(&format!("; did you mean {near:?}?"));
        }
    }
    message
}

fn display_parent(parent: &str) -> &str {
    if parent.is_empty() {
        "the top level"
    } else {
        parent
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree;

    fn lower_text(text: &str) -> (Config, Vec<String>, Vec<String>) {
        let mut d = Diagnostics::new("c.conf");
        let root = tree::build(text, &mut d);
        let lowered = lower(&root, &mut d);
        let (errors, warnings) = d.into_sorted();
        let show = |v: Vec<crate::Diagnostic>| v.iter().map(ToString::to_string).collect();
        (lowered.config, show(errors), show(warnings))
    }

    #[test]
    fn values_are_typed_and_defaults_applied() {
        let (config, errors, _) =
            lower_text("totem {\n token: 5000\n transport: udp\n}\nquorum {\n two_node: 1\n}\n");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(config.totem.token.as_millis(), 5000);
        assert_eq!(config.totem.ip_version, IpVersion::Ipv4);
        assert!(config.quorum.wait_for_all);
        assert_eq!(
            (config.totem.crypto_cipher, config.totem.crypto_hash),
            (Cipher::Aes256, Hash::Sha256)
        );
    }

    #[test]
    fn crypto_defaults_follow_secauth_and_explicit_keys() {
        let crypto = |body: &str| {
            let c = lower_text(&format!("totem {{\n{body}\n}}\n")).0.totem;
            (c.crypto_cipher, c.crypto_hash)
        };
        assert_eq!(crypto("secauth: off"), (Cipher::None, Hash::None));
        assert_eq!(
            crypto("secauth: on\ncrypto_hash: sha1"),
            (Cipher::Aes256, Hash::Sha1)
        );
        assert_eq!(crypto("crypto_hash: sha512"), (Cipher::None, Hash::Sha512));
        assert_eq!(
            crypto("crypto_cipher: aes128"),
            (Cipher::Aes128, Hash::None)
        );
    }

    #[test]
    fn unknown_names_suggest_the_nearest_or_their_home() {
        let (_, errors, _) = lower_text(
            "token: 1\ntotem {\n tokn: 1\n ring0_addr: x\n interfce {\n }\n}\ntotme {\n}\n",
        );
        assert_eq!(
            errors,
            [
                "c.conf:1:1: token: key \"token\" outside any section; it belongs in totem",
                "c.conf:3:2: totem.tokn: unknown key \"tokn\" in totem; did you mean \"token\"?",
                "c.conf:4:2: totem.ring0_addr: unknown key \"ring0_addr\" in totem; it belongs \
                 in nodelist.node",
                "c.conf:5:2: totem.interfce: unknown section \"interfce\" in totem; did you \
                 mean \"interface\"?",
                "c.conf:8:1: totme: unknown section \"totme\" at the top level; did you mean \
                 \"totem\"?",
            ]
        );
    }

    #[test]
    fn duplicates_and_ignored_keys_warn() {
        let (_, errors, warnings) = lower_text(
            "totem {\n token: 1000\n token: 2000\n knet_mtu: 0\n}\nquorum {\n device {\n  \
             model: net\n }\n}\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            warnings,
            [
                "c.conf:3:2: totem.token: duplicate key; replaces the value on line 2",
                "c.conf:4:2: totem.knet_mtu: accepted but not implemented; ignored",
                "c.conf:7:2: quorum.device: accepted but not implemented; ignored with \
                 everything inside it",
            ]
        );
    }

    #[test]
    fn list_entries_need_their_identifying_key() {
        let (_, errors, _) = lower_text(
            "nodelist {\n node {\n  ring1_addr: 10.0.0.1\n }\n}\nlogging {\n logger_subsys {\n  \
             debug: on\n }\n}\n",
        );
        assert_eq!(
            errors,
            [
                "c.conf:2:2: nodelist.node: node has no nodeid; it is required",
                "c.conf:7:2: logging.logger_subsys: logger_subsys has no subsys; it is required",
            ]
        );
    }
}
