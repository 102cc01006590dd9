//! Criterion benches of the ONNX frontend on the committed fixtures.
use criterion::{Criterion, criterion_group, criterion_main};
use std::path::PathBuf;
use zkml_compiler::{FrontendOptions, load_onnx};

fn benches(c: &mut Criterion) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
    for name in ["lenet_mnist", "gpt2", "llama"] {
        let path = dir.join(format!("{name}.onnx"));
        c.bench_function(&format!("frontend_load_{name}"), |b| {
            b.iter(|| load_onnx(&path, &FrontendOptions::default()).expect("fixture loads"))
        });
    }
}

criterion_group!(frontend, benches);
criterion_main!(frontend);
