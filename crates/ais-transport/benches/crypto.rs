//! Sealing plus opening one packet, per mode and payload size: the per-packet cost the
//! transport adds. 1400 B is a full Totem frame at the default `netmtu`; 8 KiB a jumbo one.
//! Sender and receiver live across iterations, so each iteration seals the next counter and
//! opens it under the cached key: the steady state, with no key derivation.

#![allow(missing_docs)] // criterion_group! generates an undocumented function

use ais_transport::crypto::{Crypto, CryptoMode};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const SIZES: [usize; 4] = [64, 1024, 1400, 8192];
const AUTHKEY: [u8; 256] = [0x42; 256];

fn seal_open(c: &mut Criterion) {
    for mode in CryptoMode::ALL {
        let mut group = c.benchmark_group(format!("seal_open/{mode}"));
        for size in SIZES {
            let payload = vec![0xa5u8; size];
            let mut sender = Crypto::new(mode, &AUTHKEY, 1, 1).expect("valid key");
            let mut receiver = Crypto::new(mode, &AUTHKEY, 2, 1).expect("valid key");
            let mut packet = Vec::with_capacity(size + sender.overhead());
            let mut plain = Vec::with_capacity(size);
            group.throughput(Throughput::Bytes(size as u64));
            group.bench_function(BenchmarkId::from_parameter(size), |b| {
                b.iter(|| {
                    sender.seal(1, 2, &payload, &mut packet);
                    receiver
                        .open(&packet, &mut plain)
                        .expect("fresh packet opens");
                });
            });
        }
        group.finish();
    }
}

criterion_group!(benches, seal_open);
criterion_main!(benches);
