//! The protocol core alone: messages delivered per second through a fault-free in-memory
//! ring of 3 and 16 processors (zero network delay, one thread), 64 B and 1 KiB messages.
//! Each iteration submits a batch spread over every processor and runs until every
//! processor has delivered all of it; the throughput counts each message once.

#![allow(missing_docs)] // criterion_group! generates an undocumented function

use std::time::Duration;

use ais_totem::Order;
use ais_totem::testing::Cluster;
use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const BATCH: usize = 10_000;

fn formed(nodes: usize) -> Cluster {
    let mut c = Cluster::new(nodes, |cfg| cfg.netmtu = 9000);
    c.keep = false;
    assert!(c.run_until(Duration::from_secs(120), Cluster::formed));
    c
}

fn deliver_batch(c: &mut Cluster, payload: &Bytes) {
    let n = c.nodes.len();
    let target: Vec<u64> = c.delivered_count.iter().map(|d| d + BATCH as u64).collect();
    for k in 0..BATCH {
        let i = k % n;
        c.nodes[i]
            .submit(c.now, payload.clone(), Order::Agreed)
            .expect("queue has room");
    }
    for i in 0..n {
        c.drain(i);
    }
    let ok = c.run_until(Duration::from_secs(600), |c| {
        c.delivered_count.iter().zip(&target).all(|(d, t)| d >= t)
    });
    assert!(ok, "batch not delivered");
}

fn ring(cr: &mut Criterion) {
    let mut g = cr.benchmark_group("delivered_messages");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.sample_size(10);
    for nodes in [3usize, 16] {
        for size in [64usize, 1024] {
            let mut c = formed(nodes);
            let payload = Bytes::from(vec![0xab; size]);
            g.bench_with_input(
                BenchmarkId::new(format!("{nodes}_nodes"), size),
                &size,
                |b, _| {
                    b.iter(|| deliver_batch(&mut c, &payload));
                },
            );
        }
    }
    g.finish();
}

criterion_group!(benches, ring);
criterion_main!(benches);
