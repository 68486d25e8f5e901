//! A chat over CPG: every line typed is multicast to the group; every member prints every
//! line in the same order, and who joins and leaves.
//!
//! ```sh
//! cargo run --release --bin aisexec -- --local-cluster     # in one terminal
//! AIS_IPC_PREFIX=ais-15405-n1- cargo run -p ais-client --example cpg_chat
//! AIS_IPC_PREFIX=ais-15405-n2- cargo run -p ais-client --example cpg_chat
//! ```

#![allow(clippy::disallowed_methods)] // An application: it reads stdin on a thread of its own.

use std::io::BufRead;
use std::ops::ControlFlow;
use std::sync::mpsc;
use std::time::Duration;

use ais_client::cpg::{Cpg, Dispatch, Event};
use ais_client::{Error, Options};
use ais_wire::ipc::Guarantee;

fn main() -> Result<(), Error> {
    let mut cpg = Cpg::connect(&Options::from_env())?;
    let me = cpg.local_nodeid()?;
    cpg.join(b"chat")?;
    println!(
        "node {me}, pid {}: type lines, Ctrl-D to leave",
        std::process::id()
    );

    // stdin on its own thread; the main thread waits on the daemon.
    let (lines, typed) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    loop {
        match typed.try_recv() {
            Ok(line) => loop {
                match cpg.mcast(Guarantee::AGREED, line.as_bytes()) {
                    Ok(()) => break,
                    // The daemon is busy (a sync, or a full send queue): take events, retry.
                    Err(Error::TryAgain) => {
                        cpg.dispatch(Dispatch::All, &mut print)?;
                    }
                    Err(e) => return Err(e),
                }
            },
            Err(mpsc::TryRecvError::Disconnected) => break,
            Err(mpsc::TryRecvError::Empty) => {}
        }
        if cpg.wait(Some(Duration::from_millis(50)))? {
            cpg.dispatch(Dispatch::All, &mut print)?;
        }
    }
    cpg.leave(b"chat")?;
    cpg.finalize()
}

fn print(event: Event) -> ControlFlow<()> {
    match event {
        Event::Deliver {
            nodeid, pid, data, ..
        } => println!("[{nodeid}/{pid}] {}", String::from_utf8_lossy(&data)),
        Event::Confchg {
            members,
            joined,
            left,
            ..
        } => {
            for j in joined {
                println!(
                    "* {}/{} joined ({:?})",
                    j.member.nodeid, j.member.pid, j.reason
                );
            }
            for l in left {
                println!(
                    "* {}/{} left ({:?})",
                    l.member.nodeid, l.member.pid, l.reason
                );
            }
            println!("* {} in the chat", members.len());
        }
        Event::TotemConfchg { .. } => {}
    }
    ControlFlow::Continue(())
}
