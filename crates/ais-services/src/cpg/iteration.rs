//! CPG's group listing for clients (`cpg_iteration_initialize` / `_next` / `_finalize`):
//! a snapshot of the groups, or of one group's members, taken when the iteration starts and
//! handed out one entry per request. Local to the connection.

use std::collections::VecDeque;

use ais_types::{ConnId, NodeId};
use ais_wire::ipc::{
    CpgName, CpgResponse, CsStatus, IterationDescription, IterationHandle, IterationType,
};

use super::{Cpg, ITERATIONS_PER_CONN_MAX};

impl Cpg {
    pub(super) fn iteration_start(
        &mut self,
        conn: ConnId,
        group: &CpgName,
        kind: IterationType,
    ) -> CpgResponse {
        let entries: VecDeque<IterationDescription> = match kind {
            IterationType::NameOnly => self
                .groups
                .keys()
                .map(|g| IterationDescription {
                    group: g.clone(),
                    nodeid: NodeId(0),
                    pid: 0,
                })
                .collect(),
            IterationType::OneGroup => self
                .groups
                .get(group)
                .into_iter()
                .flatten()
                .map(|m| IterationDescription {
                    group: group.clone(),
                    nodeid: m.nodeid,
                    pid: m.pid,
                })
                .collect(),
            IterationType::All => self
                .groups
                .iter()
                .flat_map(|(g, members)| {
                    members.iter().map(|m| IterationDescription {
                        group: g.clone(),
                        nodeid: m.nodeid,
                        pid: m.pid,
                    })
                })
                .collect(),
        };
        let handle = self.next_iteration;
        let Some(c) = self.conns.get_mut(&conn) else {
            return CpgResponse::IterationInitialize {
                error: CsStatus::ERR_LIBRARY,
                handle: IterationHandle(0),
            };
        };
        if c.iterations.len() >= ITERATIONS_PER_CONN_MAX {
            return CpgResponse::IterationInitialize {
                error: CsStatus::ERR_NO_RESOURCES,
                handle: IterationHandle(0),
            };
        }
        self.next_iteration += 1;
        c.iterations.insert(handle, entries);
        CpgResponse::IterationInitialize {
            error: CsStatus::OK,
            handle: IterationHandle(handle),
        }
    }

    pub(super) fn iteration_next(&mut self, conn: ConnId, handle: IterationHandle) -> CpgResponse {
        let entry = self
            .conns
            .get_mut(&conn)
            .and_then(|c| c.iterations.get_mut(&handle.0))
            .map(VecDeque::pop_front);
        let empty = IterationDescription {
            group: CpgName::default(),
            nodeid: NodeId(0),
            pid: 0,
        };
        match entry {
            Some(Some(description)) => CpgResponse::IterationNext {
                error: CsStatus::OK,
                description,
            },
            Some(None) => CpgResponse::IterationNext {
                error: CsStatus::ERR_NO_SECTIONS,
                description: empty,
            },
            None => CpgResponse::IterationNext {
                error: CsStatus::ERR_BAD_HANDLE,
                description: empty,
            },
        }
    }
}
