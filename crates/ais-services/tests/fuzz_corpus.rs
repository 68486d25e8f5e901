//! Replays the committed `fuzz/corpus/services`, so CI exercises the fuzz target without a
//! nightly toolchain.

use std::path::Path;

#[test]
fn services_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/services");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        ais_services::fuzzing::fuzz_services(&data);
        n += 1;
    }
    assert!(n > 0, "empty corpus {}", dir.display());
}
