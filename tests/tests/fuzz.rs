//! Every fuzz target (`zkml_tests::fuzz`) for a short run: no panic, no
//! mutated proof accepted. The long runs are `examples/fuzz.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

#[test]
fn every_target_survives_a_short_run() {
    for &t in zkml_tests::fuzz::TARGETS {
        let execs = if matches!(t, "proof" | "onnx" | "plan" | "calibration") { 300 } else { 3000 };
        let r = zkml_tests::fuzz::run(t, execs, Duration::from_secs(60), 7);
        assert!(r.execs > 0, "{t}: nothing ran");
        assert!(r.panics.is_empty(), "{t}: panics: {:#?}", r.panics);
        assert!(r.acceptances.is_empty(), "{t}: accepted: {:#?}", r.acceptances);
    }
}
