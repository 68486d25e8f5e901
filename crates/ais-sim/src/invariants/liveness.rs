//! **Liveness.** EVS Termination: "if a configuration ceases to exist, every member installs
//! a new configuration or fails"; and "if no further configuration change occurs, every
//! member of a regular configuration delivers every message originated in it" (TOCS95 §4).
//! After the network heals around a core of nodes, every core node installs one regular
//! configuration whose members are exactly the core, and delivers every message the core
//! submitted once it was formed.

use ais_types::NodeId;

use super::{Check, Config, History, fail};
use crate::workload::MsgKey;

/// Has every core node installed one and the same regular configuration equal to the core?
pub fn converged(h: &History, core: &[NodeId]) -> bool {
    let mut ring = None;
    for n in core {
        let Some((_, lh)) = h.running(*n) else {
            return false;
        };
        let Some(Config::Regular { ring: r, members }) = &lh.current else {
            return false;
        };
        if members != core || ring.is_some_and(|x| x != *r) {
            return false;
        }
        ring = Some(*r);
    }
    true
}

/// The liveness verdict, once the run ended: `formed` says whether the core converged in
/// time; `after` are the messages the core submitted once it had.
pub fn check_liveness(
    h: &History,
    core: &[NodeId],
    formed: bool,
    after: &[MsgKey],
    bound_s: f64,
) -> Check {
    if !formed {
        let views: Vec<String> = core
            .iter()
            .map(
                |n| match h.running(*n).and_then(|(_, lh)| lh.current.clone()) {
                    Some(Config::Regular { ring, members }) => format!("n{n}:{ring}{members:?}"),
                    Some(Config::Transitional { .. }) => format!("n{n}:transitional"),
                    None => format!("n{n}:down"),
                },
            )
            .collect();
        return fail(
            "liveness",
            format!(
                "core {core:?} did not converge within {bound_s:.1}s of healing: {}",
                views.join(" ")
            ),
        );
    }
    for n in core {
        let Some((life, lh)) = h.running(*n) else {
            continue;
        };
        if let Some(missing) = after.iter().find(|k| !lh.delivered.contains_key(k)) {
            return fail(
                "liveness",
                format!("{life} never delivered {missing:?}, submitted after the core formed"),
            );
        }
    }
    Ok(())
}
