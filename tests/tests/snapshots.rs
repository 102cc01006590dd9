//! Snapshots of `zkc dump --stage frontend|rewrite|quantized|partitioned` for every fixture. A change in
//! lowering shows up as a reviewable diff (`cargo insta review`).

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use zkml_compiler::quantize::QuantOptions;
use zkml_compiler::rewrite::{RewriteOptions, rewrite};
use zkml_compiler::{FrontendOptions, load_onnx, pipeline};
use zkml_tests::model_fixtures;

#[test]
fn frontend_dumps() {
    for path in model_fixtures() {
        let graph = load_onnx(&path, &FrontendOptions::default()).expect("fixture loads");
        let name = path.file_stem().expect("file name").to_string_lossy().to_string();
        insta::assert_snapshot!(format!("frontend_{name}"), graph.to_text());
    }
}

#[test]
fn rewrite_and_quantized_dumps() {
    for path in model_fixtures() {
        let graph = load_onnx(&path, &FrontendOptions::default()).expect("fixture loads");
        let name = path.file_stem().expect("file name").to_string_lossy().to_string();
        let (rw, report) = rewrite(&graph, &RewriteOptions::default()).expect("rewrites");
        assert_eq!(report.stop_reason, "saturated", "{name}: rules must saturate on fixtures");
        insta::assert_snapshot!(format!("rewrite_{name}"), rw.to_text());
        let samples = pipeline::default_calibration(&graph);
        let c = pipeline::compile(&graph, &samples, &QuantOptions::default(), &RewriteOptions::default())
            .expect("quantizes");
        insta::assert_snapshot!(format!("quantized_{name}"), c.quantized.graph.to_text());
    }
}

#[test]
fn partitioned_dumps() {
    for path in model_fixtures() {
        let graph = load_onnx(&path, &FrontendOptions::default()).expect("fixture loads");
        let name = path.file_stem().expect("file name").to_string_lossy().to_string();
        let samples = pipeline::default_calibration(&graph);
        let g = pipeline::compile(&graph, &samples, &QuantOptions::default(), &RewriteOptions::default())
            .expect("quantizes")
            .quantized
            .graph;
        let k = if matches!(name.as_str(), "gpt2" | "llama") { 4 } else { 2 };
        let parts = zkml_compiler::partition::partition(&g, k).expect("partitions");
        insta::assert_snapshot!(format!("partitioned_{name}"), parts.to_text(&g));
    }
}
