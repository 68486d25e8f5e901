//! cfg, the configuration and status service: for now the two requests our tools use, the
//! local node id and a node's addresses (reference §2.6; corosync 3.1.7
//! `include/corosync/ipc_cfg.h`). Same shape as [`crate::cpg`]; more requests will follow.
//!
//! Invariant: one response is read right after each request.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ais_ipc::client::IpcClient;
use ais_types::NodeId;
use ais_wire::ipc::{CsStatus, IPC_MSG_SIZE_MAX};

use crate::Options;
use crate::error::{Error, Result};

/// `MESSAGE_REQ_CFG_GET_NODE_ADDRS`.
const REQ_GET_NODE_ADDRS: i32 = 5;
/// `MESSAGE_REQ_CFG_LOCAL_GET`.
const REQ_LOCAL_GET: i32 = 6;
/// `MESSAGE_RES_CFG_GET_NODE_ADDRS`.
const RES_GET_NODE_ADDRS: i32 = 11;
/// `MESSAGE_RES_CFG_LOCAL_GET`.
const RES_LOCAL_GET: i32 = 12;
/// Bytes per address slot (`TOTEMIP_ADDRLEN`).
const ADDR_SLOT: usize = 16;

/// One connection to the local daemon's cfg service.
pub struct Cfg {
    ipc: IpcClient,
    name: String,
    response: Vec<u8>,
}

impl Cfg {
    /// Connects to `<prefix>cfg` (`corosync_cfg_initialize`).
    pub fn connect(options: &Options) -> Result<Self> {
        let name = options.ipc_name("cfg");
        let ipc = IpcClient::connect(&name, IPC_MSG_SIZE_MAX as u32)
            .map_err(|e| Error::from_ipc(e, &name))?;
        Ok(Self {
            ipc,
            name,
            response: Vec::new(),
        })
    }

    /// This node's id (`corosync_cfg_local_get`).
    pub fn local_nodeid(&mut self) -> Result<NodeId> {
        self.request(&request(REQ_LOCAL_GET, None))?;
        check(&self.response, RES_LOCAL_GET, 32)?;
        Ok(NodeId(u32_at(&self.response, 24)))
    }

    /// The configured addresses of `nodeid`, link 0 first (`corosync_cfg_get_node_addrs`).
    pub fn node_addrs(&mut self, nodeid: NodeId) -> Result<Vec<IpAddr>> {
        self.request(&request(REQ_GET_NODE_ADDRS, Some(nodeid.0)))?;
        decode_node_addrs(&self.response)
    }

    fn request(&mut self, msg: &[u8]) -> Result<()> {
        let name = &self.name;
        self.ipc.send(msg).map_err(|e| Error::from_ipc(e, name))?;
        self.ipc
            .recv_response(&mut self.response, None)
            .map_err(|e| Error::from_ipc(e, name))
    }
}

impl std::fmt::Debug for Cfg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cfg")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A request: header `id` and size, then an optional u32 argument @16 (24 bytes in all).
fn request(id: i32, arg: Option<u32>) -> Vec<u8> {
    let len = if arg.is_some() { 24 } else { 16 };
    let mut msg = vec![0u8; len];
    msg[0..4].copy_from_slice(&id.to_ne_bytes());
    msg[8..12].copy_from_slice(&(len as i32).to_ne_bytes());
    if let Some(arg) = arg {
        msg[16..20].copy_from_slice(&arg.to_ne_bytes());
    }
    msg
}

/// Checks a response's id and status, and that it holds at least `min` bytes.
fn check(buf: &[u8], id: i32, min: usize) -> Result<()> {
    if buf.len() < 24 {
        return Err(Error::Protocol(format!(
            "cfg response of {} bytes",
            buf.len()
        )));
    }
    Error::check(CsStatus(u32_at(buf, 16) as i32))?;
    let got = u32_at(buf, 0) as i32;
    if got != id || buf.len() < min {
        return Err(Error::Protocol(format!(
            "unexpected cfg response id {got} of {} bytes",
            buf.len()
        )));
    }
    Ok(())
}

/// `res_lib_cfg_get_node_addrs`: `family` @24 (`AF_INET` 2, `AF_INET6` 10), `num_addrs`
/// @28, then 16-byte address slots @32.
fn decode_node_addrs(buf: &[u8]) -> Result<Vec<IpAddr>> {
    check(buf, RES_GET_NODE_ADDRS, 32)?;
    let family = u32_at(buf, 24);
    let count = u32_at(buf, 28) as usize;
    if buf.len() < 32 + count.saturating_mul(ADDR_SLOT) {
        return Err(Error::Protocol(format!(
            "cfg node addresses: {count} addresses in {} bytes",
            buf.len()
        )));
    }
    (0..count)
        .map(|i| {
            let slot = &buf[32 + i * ADDR_SLOT..32 + (i + 1) * ADDR_SLOT];
            match family {
                2 => Ok(IpAddr::V4(Ipv4Addr::new(
                    slot[0], slot[1], slot[2], slot[3],
                ))),
                10 => {
                    let mut octets = [0u8; 16];
                    octets.copy_from_slice(slot);
                    Ok(IpAddr::V6(Ipv6Addr::from(octets)))
                }
                f => Err(Error::Protocol(format!("cfg address family {f}"))),
            }
        })
        .collect()
}

fn u32_at(buf: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&buf[at..at + 4]);
    u32::from_ne_bytes(b)
}

#[cfg(test)]
mod tests {
    use ais_wire::ipc::CfgResponse;

    use super::*;

    #[test]
    fn node_addresses_decode_from_the_services_encoding() {
        let addrs: Vec<IpAddr> = vec!["127.0.0.1".parse().unwrap(), "10.1.2.3".parse().unwrap()];
        let buf = CfgResponse::NodeAddrs {
            error: CsStatus::OK,
            addrs: addrs.clone(),
        }
        .to_vec();
        assert_eq!(decode_node_addrs(&buf).unwrap(), addrs);
        let v6: Vec<IpAddr> = vec!["fe80::1".parse().unwrap()];
        let buf = CfgResponse::NodeAddrs {
            error: CsStatus::OK,
            addrs: v6.clone(),
        }
        .to_vec();
        assert_eq!(decode_node_addrs(&buf).unwrap(), v6);
    }

    #[test]
    fn an_unknown_node_is_an_error_status() {
        let buf = CfgResponse::NodeAddrs {
            error: CsStatus::ERR_NOT_EXIST,
            addrs: Vec::new(),
        }
        .to_vec();
        assert!(matches!(
            decode_node_addrs(&buf),
            Err(Error::Cs(CsStatus::ERR_NOT_EXIST))
        ));
        assert!(matches!(
            decode_node_addrs(&[0; 8]),
            Err(Error::Protocol(_))
        ));
    }

    #[test]
    fn requests_carry_their_size() {
        let r = request(REQ_GET_NODE_ADDRS, Some(7));
        assert_eq!(r.len(), 24);
        assert_eq!(u32_at(&r, 0), 5);
        assert_eq!(u32_at(&r, 8), 24);
        assert_eq!(u32_at(&r, 16), 7);
        assert_eq!(request(REQ_LOCAL_GET, None).len(), 16);
    }
}
