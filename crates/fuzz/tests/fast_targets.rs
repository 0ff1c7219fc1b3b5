//! The fast targets, ~20k inputs each from the saved corpus, with no failure (no panic,
//! no failed oracle check); and the saved corpus is what the seed generator writes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use oxcd_fuzz::driver::{self, RunConfig};
use oxcd_fuzz::targets::{self, ALL};

const INPUTS: u64 = 20_000;

fn corpus_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(name)
}

fn fuzz(name: &str) {
    let t = targets::find(name).expect("a target");
    let corpus = oxcd_fuzz::corpus::load(&corpus_dir(name), t.max_len).expect("corpus");
    assert!(corpus.len() > 1, "{name}: the saved corpus is missing");
    let cfg = RunConfig {
        inputs: INPUTS,
        seed: 7,
        jobs: 2,
        crash_dir: PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fuzz-crashes"),
        timeout: Duration::from_secs(120),
        progress: None,
    };
    let report = driver::run(t, &corpus, &cfg);
    assert_eq!(report.inputs, INPUTS);
    assert_eq!(report.failed, 0, "{name}: {:#?}", report.failures);
    assert!(
        report.outcomes.distinct() >= 20,
        "{name}: only {} distinct outcomes",
        report.outcomes.distinct()
    );
}

#[test]
fn grpc_decode() {
    fuzz("grpc-decode");
}

#[test]
fn gateway_json() {
    fuzz("gateway-json");
}

#[test]
fn state_decode() {
    fuzz("state-decode");
}

/// `oxcd-fuzz --write-corpus` regenerates exactly the checked-in files.
#[test]
fn saved_corpus_is_current() {
    for t in ALL {
        let mut want = (t.seeds)();
        want.sort();
        let mut have = Vec::new();
        for e in std::fs::read_dir(corpus_dir(t.name)).expect("corpus dir") {
            let p = e.expect("entry").path();
            let name = p.file_name().expect("name").to_string_lossy().into_owned();
            have.push((name, std::fs::read(&p).expect("read")));
        }
        have.sort();
        assert!(
            have == want,
            "{}: the saved corpus differs from the generator; run `oxcd-fuzz --write-corpus`",
            t.name
        );
    }
}
