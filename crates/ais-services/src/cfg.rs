//! cfg, the configuration and status service — for now only what the CPG tools use: the
//! local node id and the addresses of a node (`corosync-cpgtool` prints them). The other cfg
//! requests are answered `CS_ERR_NOT_SUPPORTED` with the response id corosync's library
//! waits for, so a client is told rather than left hanging. Everything here is local: no
//! replicated state, nothing to synchronize.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ais_types::{ConnId, NodeId};
use ais_wire::ipc::{CfgRequest, CfgResponse, CsStatus, cfg_response_id_for};
use bytes::Bytes;

use crate::{Effects, Membership, Service, ServiceId};

/// The cfg service of one node.
pub struct Cfg {
    me: NodeId,
    /// Every configured node's addresses, link 0 first.
    addrs: BTreeMap<NodeId, Vec<IpAddr>>,
}

impl Cfg {
    /// cfg on node `me`, which knows the configured addresses of every node.
    pub fn new(me: NodeId, addrs: BTreeMap<NodeId, Vec<IpAddr>>) -> Self {
        Self { me, addrs }
    }
}

impl Service for Cfg {
    fn id(&self) -> ServiceId {
        ServiceId::CFG
    }

    fn connect(&mut self, _fx: &mut Effects<'_>, _conn: ConnId, _pid: u32) {}

    fn disconnect(&mut self, _fx: &mut Effects<'_>, _conn: ConnId) {}

    fn request(&mut self, fx: &mut Effects<'_>, conn: ConnId, msg: &[u8], _room: usize) {
        let response = match CfgRequest::decode(msg) {
            Ok(CfgRequest::LocalGet) => CfgResponse::LocalGet {
                local_nodeid: self.me,
            },
            Ok(CfgRequest::GetNodeAddrs { nodeid }) => {
                let nodeid = if nodeid.0 == 0 { self.me } else { nodeid };
                let addrs = self.addrs.get(&nodeid).cloned().unwrap_or_default();
                CfgResponse::NodeAddrs {
                    error: if addrs.is_empty() {
                        CsStatus::ERR_NOT_EXIST
                    } else {
                        CsStatus::OK
                    },
                    addrs,
                }
            }
            Ok(CfgRequest::Other { id }) => match cfg_response_id_for(id) {
                Some(id) => CfgResponse::Bare {
                    id,
                    error: CsStatus::ERR_NOT_SUPPORTED,
                },
                // corosync's dispatcher: an unknown request id gets id 0, INVALID_PARAM.
                None => CfgResponse::Bare {
                    id: 0,
                    error: CsStatus::ERR_INVALID_PARAM,
                },
            },
            Err(e) => {
                tracing::warn!(%conn, "cfg client sent a bad request ({e}); disconnecting it");
                fx.disconnect(conn);
                return;
            }
        };
        fx.reply(conn, response.to_vec());
    }

    fn deliver(&mut self, _fx: &mut Effects<'_>, _origin: NodeId, _body: Bytes) {}

    fn configuration(&mut self, _fx: &mut Effects<'_>, _membership: &Membership) {}

    fn sync_init(&mut self, _fx: &mut Effects<'_>, _membership: &Membership) {}

    fn sync_deliver(&mut self, _origin: NodeId, _body: Bytes) {}

    fn sync_activate(&mut self, _fx: &mut Effects<'_>) {}

    fn sync_abort(&mut self) {}

    fn digest(&self) -> u64 {
        0
    }

    fn describe(&self) -> String {
        "cfg {}".to_owned()
    }
}
