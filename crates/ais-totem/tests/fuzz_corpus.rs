//! Replays the committed fuzz corpora (`fuzz/corpus/`), so CI exercises every fuzz target
//! without a nightly toolchain.

use std::path::Path;

fn replay(target: &str, body: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        body(&data);
        n += 1;
    }
    assert!(n > 0, "empty corpus {}", dir.display());
}

#[test]
fn totem_decode_corpus() {
    replay("totem_decode", ais_totem::testing::fuzz_decode);
}

#[test]
fn totem_node_corpus() {
    replay("totem_node", ais_totem::testing::fuzz_node);
}
