//! **Virtual synchrony.** "Processors that are members of two consecutive configurations C1
//! and C2 deliver the same set of messages in C1 before delivering the configuration change
//! from C1 to C2" (TOCS95 §4; EVS §3). We check the regular configuration C1 and the
//! transitional configuration between C1 and C2 separately: both sets must be equal.

use std::collections::BTreeMap;

use ais_totem::ConfigChange;
use ais_types::RingId;

use super::{Check, History, Installed, Invariant, Life, fail};
use crate::workload::MsgKey;

/// What the first life to make a transition delivered: in C1, and in the transitional
/// configuration.
type Delivered = (Life, Vec<MsgKey>, Vec<MsgKey>);

#[derive(Default)]
pub(crate) struct VirtualSynchrony {
    seen: BTreeMap<(RingId, RingId), Delivered>,
}

impl Invariant for VirtualSynchrony {
    fn on_configuration(&mut self, _h: &History, e: &Installed<'_>) -> Check {
        let ConfigChange::Regular { ring_id, .. } = e.change else {
            return Ok(());
        };
        let Some((c1, _)) = e.before.regular.last() else {
            return Ok(());
        };
        let mut in_c1 = e.before.in_regular.clone();
        let mut in_t = e.before.in_trans.clone();
        in_c1.sort_unstable();
        in_t.sort_unstable();
        match self.seen.get(&(*c1, *ring_id)) {
            None => {
                self.seen.insert((*c1, *ring_id), (e.life, in_c1, in_t));
                Ok(())
            }
            Some((other, o_c1, o_t)) => {
                if *o_c1 != in_c1 {
                    return fail(
                        "virtual_synchrony",
                        format!(
                            "{} and {other} moved {c1} -> {ring_id} having delivered {} and {} messages in {c1}{}",
                            e.life,
                            in_c1.len(),
                            o_c1.len(),
                            first_difference(&in_c1, o_c1)
                        ),
                    );
                }
                if *o_t != in_t {
                    return fail(
                        "virtual_synchrony",
                        format!(
                            "{} and {other} delivered {} and {} messages in the transitional configuration {c1} -> {ring_id}{}",
                            e.life,
                            in_t.len(),
                            o_t.len(),
                            first_difference(&in_t, o_t)
                        ),
                    );
                }
                Ok(())
            }
        }
    }
}

fn first_difference(a: &[MsgKey], b: &[MsgKey]) -> String {
    let only_a = a.iter().find(|k| b.binary_search(k).is_err());
    let only_b = b.iter().find(|k| a.binary_search(k).is_err());
    format!(" (e.g. {only_a:?} vs {only_b:?})")
}
