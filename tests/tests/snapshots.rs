//! Snapshots of `zkc dump --stage frontend` for every fixture. A change in
//! lowering shows up as a reviewable diff (`cargo insta review`).

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use zkml_compiler::{FrontendOptions, load_onnx};
use zkml_tests::model_fixtures;

#[test]
fn frontend_dumps() {
    for path in model_fixtures() {
        let graph = load_onnx(&path, &FrontendOptions::default()).expect("fixture loads");
        let name = path.file_stem().expect("file name").to_string_lossy().to_string();
        insta::assert_snapshot!(format!("frontend_{name}"), graph.to_text());
    }
}
