//! **Transitional configuration.** "The transitional configuration consists of the members
//! of the old regular configuration that proceed together to the new regular configuration"
//! (TOCS95 §7.2; EVS §3: "a transitional configuration ... has the same membership as the
//! intersection of the two regular configurations" for the processors that move together).
//! So: T follows C1 and precedes C2; self ∈ T ⊆ C1 ∩ C2; and at the end of the run, every
//! member of T that installed C2 did so directly after C1.

use ais_totem::ConfigChange;
use ais_types::{NodeId, RingId};

use super::{Check, Config, History, Installed, Invariant, Life, fail};

#[derive(Default)]
pub(crate) struct Transitional {
    records: Vec<(Life, RingId, Vec<NodeId>, RingId)>,
}

impl Invariant for Transitional {
    fn on_configuration(&mut self, _h: &History, e: &Installed<'_>) -> Check {
        let ConfigChange::Regular {
            ring_id,
            members: c2,
            ..
        } = e.change
        else {
            return Ok(());
        };
        let Some((c1, c1_members)) = e.before.regular.last() else {
            return Ok(());
        };
        let Some(Config::Transitional {
            old,
            ring,
            members: t,
        }) = &e.before.current
        else {
            return fail(
                "transitional",
                format!(
                    "{} installed {ring_id} after {c1} with no transitional configuration",
                    e.life
                ),
            );
        };
        if old != c1 || ring != ring_id {
            return fail(
                "transitional",
                format!(
                    "{} transitional {old}->{ring} between {c1} and {ring_id}",
                    e.life
                ),
            );
        }
        if !t.contains(&e.life.node) || t.iter().any(|p| !c1_members.contains(p) || !c2.contains(p))
        {
            return fail(
                "transitional",
                format!(
                    "{}: T={t:?} not within {c1}={c1_members:?} ∩ {ring_id}={c2:?}",
                    e.life
                ),
            );
        }
        self.records.push((e.life, *c1, t.clone(), *ring_id));
        Ok(())
    }

    fn at_end(&mut self, h: &History) -> Check {
        for (life, c1, t, c2) in &self.records {
            for p in t {
                let Some((p_life, ph)) = h
                    .lives
                    .iter()
                    .find(|(l, ph)| l.node == *p && ph.installed(*c1))
                else {
                    continue;
                };
                let Some(i) = ph.regular.iter().position(|(r, _)| r == c2) else {
                    continue;
                };
                if i == 0 || ph.regular[i - 1].0 != *c1 {
                    return fail(
                        "transitional",
                        format!(
                            "{life} had {p_life} in T({c1}->{c2}) but {p_life} came to {c2} another way"
                        ),
                    );
                }
            }
        }
        Ok(())
    }
}
