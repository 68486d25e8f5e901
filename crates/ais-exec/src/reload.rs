//! Configuration reload at runtime (`ais-cfgtool -R`, corosync's `corosync-cfgtool -R`):
//! every node re-reads its own file when the reload request is delivered. A file that does
//! not parse is refused with its file:line diagnostics and nothing changes. What can change
//! without a restart: Totem's timeouts and limits (from the next time each timer is set),
//! the nodelist (added nodes are sent to and may join, removed ones are no longer heard),
//! votes and quorum options, the log destinations and levels (`logging {}`), and the cmap
//! keys of the file. What cannot (the transport,
//! crypto, this node's id or addresses, the links) is refused with a reason.

use ais_config::Config;
use ais_types::{Instant, NodeId};

use crate::cmap_keys;
use crate::event_loop::Daemon;
use crate::setup;

impl Daemon {
    /// Re-reads and applies the configuration file; a one-line summary, or why nothing
    /// changed.
    pub(crate) fn reload_config(&mut self, now: Instant) -> Result<String, String> {
        let path = self.config_path.clone().ok_or_else(|| {
            "aisexec runs on the embedded default configuration: there is no file to reload"
                .to_owned()
        })?;
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let parsed = ais_config::parse(&text, &path.display().to_string())
            .map_err(|errors| errors.to_string())?;
        let new = parsed.config;
        for warning in &parsed.warnings {
            tracing::warn!("{warning}");
        }
        fixed_settings_unchanged(&self.config, &new)?;
        let me = self.totem.node_id();
        let resolved = setup::resolve_nodelist(&new).map_err(|e| format!("{e:#}"))?;
        if !new.nodelist.is_empty() {
            let mine = resolved.iter().find(|(id, _)| *id == me.0);
            let before = setup::resolve_nodelist(&self.config)
                .ok()
                .and_then(|r| r.into_iter().find(|(id, _)| *id == me.0));
            match (mine, before) {
                (None, _) => {
                    return Err(format!(
                        "node {me} is no longer in the nodelist; stop it with ais-cfgtool -H \
                         instead of removing it from its own file"
                    ));
                }
                (Some((_, now_addrs)), Some((_, old_addrs))) if *now_addrs != old_addrs => {
                    return Err(format!(
                        "node {me}'s own addresses changed; that needs a restart of aisexec"
                    ));
                }
                _ => {}
            }
        }
        let log = crate::logging::prepare(&setup::log_settings(&new))
            .map_err(|e| format!("logging: {e:#}"))?;
        let totem_config = new.totem_config(me);
        self.totem
            .reconfigure(&totem_config)
            .map_err(|e| e.to_string())?;
        log.apply();
        let peers = setup::peer_configs(&resolved, me.0, self.transport.links());
        let added: Vec<u32> = peers
            .iter()
            .map(|p| p.node)
            .filter(|n| !self.node_addrs.contains_key(&NodeId(*n)))
            .collect();
        self.transport.set_peers(peers, now);
        self.node_addrs = setup::node_addrs(&resolved, me.0, &self.node_addrs);
        let local_node_pos = new.nodelist.iter().position(|n| n.nodeid == me.0);
        self.services.update_keys(|keys| {
            cmap_keys::load_config_keys(keys, &text, local_node_pos);
            cmap_keys::default_keys(keys, new.totem.transport.keyword());
            cmap_keys::totem_runtime_keys(keys, &totem_config);
        });
        self.access.reconfigure(&new);
        self.publish_uidgid();
        self.services
            .reconfigure(&setup::service_settings(&new, me.0, &self.node_addrs));
        self.totem_config = totem_config.clone();
        self.token_timeout = totem_config.token_timeout();
        let summary = format!(
            "configuration {} reloaded: token {} ms, {} nodes{}",
            path.display(),
            self.token_timeout.as_millis(),
            new.nodelist.len(),
            if added.is_empty() {
                String::new()
            } else {
                format!(", added {added:?}")
            }
        );
        self.config = new;
        Ok(summary)
    }
}

/// Settings a running daemon cannot take over: refused on reload, with what to do.
fn fixed_settings_unchanged(old: &Config, new: &Config) -> Result<(), String> {
    let mut changed = Vec::new();
    if old.totem.transport != new.totem.transport {
        changed.push("totem.transport");
    }
    if old.totem.crypto() != new.totem.crypto() || old.totem.keyfile != new.totem.keyfile {
        changed.push("totem.crypto_cipher/crypto_hash/keyfile");
    }
    if old.totem.interfaces != new.totem.interfaces {
        changed.push("totem.interface");
    }
    if old.totem.nodeid != new.totem.nodeid {
        changed.push("totem.nodeid");
    }
    if old.totem.ip_version != new.totem.ip_version {
        changed.push("totem.ip_version");
    }
    if old.system != new.system {
        changed.push("system");
    }
    if changed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} cannot change at runtime; restart aisexec to apply it (nothing was changed)",
            changed.join(", ")
        ))
    }
}
