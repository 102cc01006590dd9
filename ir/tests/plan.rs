//! The plan format: round trip, and every kind of damage is a typed error.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use zkml_ir::ops::binary::{Binary, BinaryOp};
use zkml_ir::ops::einsum::Einsum;
use zkml_ir::ops::source::Input;
use zkml_ir::plan::{FORMAT_VERSION, MAGIC};
use zkml_ir::{Fact, Graph, Plan, PlanError, Tensor, ValueId};

fn sample_graph() -> Graph {
    let mut g = Graph::new();
    let x = g.add_node("x", Input { index: 0, fact: Fact::f32([2, 3]) }, &[]).unwrap();
    let w = g
        .add_const("w", Tensor::from_f32([3, 4], (0..12).map(|i| i as f32 * 0.5 - 2.0).collect()).unwrap())
        .unwrap();
    let b = g.add_const("b", Tensor::from_f32([4], vec![0.1, -0.2, 0.3, -0.4]).unwrap()).unwrap();
    let ids = g.add_const("ids", Tensor::from_i64([2], vec![1, 0]).unwrap()).unwrap();
    let y = g.add_node("mm", Einsum::new("mk,kn->mn").unwrap(), &[ValueId::new(x, 0), w]).unwrap();
    let z = g.add_node("bias", Binary { op: BinaryOp::Add }, &[ValueId::new(y, 0), b]).unwrap();
    let gth =
        g.add_node("gather", zkml_ir::ops::layout::Gather { axis: 0 }, &[ValueId::new(z, 0), ids]).unwrap();
    g.set_value_name(ValueId::new(gth, 0), "logits");
    g.set_outputs(vec![ValueId::new(gth, 0)]);
    g
}

fn input() -> Vec<Tensor> {
    vec![Tensor::from_f32([2, 3], vec![1.0, 2.0, 3.0, -1.0, 0.5, 0.25]).unwrap()]
}

#[test]
fn round_trip_preserves_structure_weights_and_semantics() {
    let g = sample_graph();
    let bytes = Plan::new(g.clone()).to_bytes().unwrap();
    assert_eq!(&bytes[..8], MAGIC);
    let back = Plan::from_bytes(&bytes).unwrap();
    assert_eq!(back.graph.to_text(), g.to_text());
    assert_eq!(back.graph.eval(&input()).unwrap(), g.eval(&input()).unwrap());
    // Blobs are 64-byte aligned for memory mapping.
    let blob_offset = u64::from_le_bytes(bytes[24..32].try_into().unwrap());
    assert_eq!(blob_offset % 64, 0);
    // Writing is deterministic.
    assert_eq!(Plan::new(back.graph).to_bytes().unwrap(), bytes);
}

#[test]
fn open_reads_a_written_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.bin");
    Plan::new(sample_graph()).write(&path).unwrap();
    let p = Plan::open(&path).unwrap();
    assert_eq!(p.graph.to_text(), sample_graph().to_text());
}

#[test]
fn other_version_is_a_clear_error() {
    let mut bytes = Plan::new(sample_graph()).to_bytes().unwrap();
    bytes[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    let err = Plan::from_bytes(&bytes).unwrap_err();
    assert!(
        matches!(err, PlanError::Version { found, supported } if found == FORMAT_VERSION + 1 && supported == FORMAT_VERSION)
    );
    assert!(err.to_string().contains("recompile"), "{err}");
}

#[test]
fn not_a_plan_is_a_clear_error() {
    assert!(matches!(Plan::from_bytes(b"\x08\x01\x12\x04onnx-model-bytes"), Err(PlanError::BadMagic)));
    assert!(matches!(Plan::from_bytes(b""), Err(PlanError::Truncated(_))));
}

#[test]
fn every_truncation_is_rejected() {
    let bytes = Plan::new(sample_graph()).to_bytes().unwrap();
    for len in 0..bytes.len() {
        let r = Plan::from_bytes(&bytes[..len]);
        assert!(r.is_err(), "truncation to {len} bytes accepted");
    }
}

#[test]
fn every_single_byte_corruption_is_rejected() {
    let bytes = Plan::new(sample_graph()).to_bytes().unwrap();
    for i in 0..bytes.len() {
        // bytes 12..16 are reserved; a flip there is harmless by design.
        if (12..16).contains(&i) {
            continue;
        }
        for mask in [0x01u8, 0x80, 0xff] {
            let mut b = bytes.clone();
            b[i] ^= mask;
            assert!(Plan::from_bytes(&b).is_err(), "flip {mask:#x} at byte {i} accepted");
        }
    }
}

/// A plan whose hash is recomputed after tampering (so only the structural
/// checks stand between it and the runtime) is still refused, never a panic.
#[test]
fn rehashed_garbage_header_is_rejected_without_panic() {
    let bytes = Plan::new(sample_graph()).to_bytes().unwrap();
    let h_len = u64::from_le_bytes(bytes[16..24].try_into().unwrap()) as usize;
    let mut rejected = 0;
    for i in 72..72 + h_len {
        let mut b = bytes.clone();
        b[i] = b[i].wrapping_add(1 + (i % 200) as u8);
        let hash = blake3::hash(&b[72..]);
        b[40..72].copy_from_slice(hash.as_bytes());
        if Plan::from_bytes(&b).is_err() {
            rejected += 1;
        }
    }
    // Some edits are semantically valid (a name's letter, a float attribute);
    // most must be caught by decoding or validation.
    assert!(rejected > h_len / 2, "only {rejected} of {h_len} header edits rejected");
}

/// Hostile plans (hash recomputed, so only structural checks stand) with
/// runs of 0xff / 0x7f bytes written into the header — huge lengths, shapes,
/// indices, attributes — are refused or accepted as valid graphs, never a
/// panic or an abort.
#[test]
fn hostile_headers_never_panic() {
    let bytes = Plan::new(sample_graph()).to_bytes().unwrap();
    let h_len = u64::from_le_bytes(bytes[16..24].try_into().unwrap()) as usize;
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..3000 {
        let mut b = bytes.clone();
        let at = 72 + (next() as usize % h_len);
        let run = 1 + next() as usize % 9;
        let fill = if next() % 2 == 0 { 0xff } else { 0x7f };
        for x in b.iter_mut().skip(at).take(run.min(72 + h_len - at)) {
            *x = fill;
        }
        let hash = blake3::hash(&b[72..]);
        b[40..72].copy_from_slice(hash.as_bytes());
        if let Ok(p) = Plan::from_bytes(&b) {
            // Whatever decodes is a validated graph; evaluating it must not
            // panic either (it may fail).
            let _ = p.graph.eval(&input());
        }
    }
}

fn with_prover_section() -> Plan {
    let mut p = Plan::new(sample_graph());
    p.prover = Some(zkml_ir::plan::ProverSection::owned((0..1000u32).map(|i| (i * 7) as u8).collect()));
    p
}

#[test]
fn prover_section_round_trips_in_memory_and_from_a_file() {
    let p = with_prover_section();
    let bytes = p.to_bytes().unwrap();
    let back = Plan::from_bytes(&bytes).unwrap();
    let want = p.prover.as_ref().unwrap().as_bytes().unwrap();
    assert_eq!(back.prover.as_ref().unwrap().as_bytes().unwrap(), want);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.bin");
    p.write(&path).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    let opened = Plan::open(&path).unwrap();
    let sec = opened.prover.as_ref().unwrap();
    assert!(matches!(sec.bytes, zkml_ir::plan::SectionBytes::File(_)), "{sec:?}");
    assert_eq!(sec.as_bytes().unwrap(), want);
    // The section starts 64-byte aligned in the file.
    assert_eq!(sec.start % 64, 0);
    assert_eq!(opened.graph.to_text(), sample_graph().to_text());
    // A plan without the section has none.
    assert!(Plan::from_bytes(&Plan::new(sample_graph()).to_bytes().unwrap()).unwrap().prover.is_none());
}

#[test]
fn damaged_prover_section_is_rejected() {
    let bytes = with_prover_section().to_bytes().unwrap();
    let sec_len = 1000;
    let start = bytes.len() - sec_len;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.bin");
    for i in [start, start + 1, start + 500, bytes.len() - 1] {
        let mut b = bytes.clone();
        b[i] ^= 0x10;
        let err = Plan::from_bytes(&b).unwrap_err();
        assert!(err.to_string().contains("prover section"), "{err}");
        std::fs::write(&path, &b).unwrap();
        assert!(Plan::open(&path).is_err());
    }
    // Truncated, extended, or bytes appended to a plan without a section.
    assert!(Plan::from_bytes(&bytes[..bytes.len() - 1]).is_err());
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(Plan::from_bytes(&longer).is_err());
    let mut plain = Plan::new(sample_graph()).to_bytes().unwrap();
    plain.extend_from_slice(&[0; 64]);
    assert!(Plan::from_bytes(&plain).is_err());
}

#[test]
fn streamed_prover_section_is_the_same_file() {
    let p = with_prover_section();
    let section = p.prover.as_ref().unwrap().as_bytes().unwrap().to_vec();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.bin");
    Plan::new(sample_graph())
        .write_streaming(&path, |w| {
            w.write_all(&section)?;
            Ok(section.len() as u64)
        })
        .unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), p.to_bytes().unwrap());
    // A section that differs between the two passes is refused.
    let calls = std::cell::Cell::new(0u64);
    let r = Plan::new(sample_graph()).write_streaming(&path, |w| {
        calls.set(calls.get() + 1);
        w.write_all(&vec![0; calls.get() as usize])?;
        Ok(calls.get())
    });
    assert!(r.is_err());
}

/// A quantized graph whose constants span every storage width: 8-bit
/// weights, a 12-bit weight, a 24-bit bias, a 40-bit constant, an 8-bit
/// embedding table read through a gather.
fn quantized_graph() -> Graph {
    use zkml_ir::ops::source::Const;
    use zkml_ir::{DType, QType};
    let q = |bits| QType::new(bits, 1.0);
    let ints = |shape: &[usize], bits: u8, seed: i64| {
        let n: usize = shape.iter().product();
        let m = q(bits).max_abs();
        Tensor::from_i64(shape, (0..n as i64).map(|i| ((i * 7919 + seed) % (2 * m + 1)) - m).collect())
            .unwrap()
    };
    let mut g = Graph::new();
    let x = g.add_node("x", Input { index: 0, fact: Fact::new(DType::Q(q(8)), vec![2, 3]) }, &[]).unwrap();
    let konst = |g: &mut Graph, name: &str, shape: &[usize], bits: u8, seed: i64| {
        ValueId::new(
            g.add_node(name, Const::quantized(ints(shape, bits, seed), q(bits)).unwrap(), &[]).unwrap(),
            0,
        )
    };
    let w8 = konst(&mut g, "w8", &[3, 4], 8, 1);
    let w12 = konst(&mut g, "w12", &[4, 5], 12, 2);
    let b24 = konst(&mut g, "b24", &[5], 24, 3);
    let c40 = konst(&mut g, "c40", &[5], 40, 4);
    let emb = konst(&mut g, "emb", &[6, 3], 8, 5);
    let ids = g.add_const("ids", Tensor::from_i64([2], vec![4, 1]).unwrap()).unwrap();
    let e = g.add_node("embed", zkml_ir::ops::layout::Gather { axis: 0 }, &[emb, ids]).unwrap();
    let xe =
        g.add_node("xe", Binary { op: BinaryOp::Add }, &[ValueId::new(x, 0), ValueId::new(e, 0)]).unwrap();
    let h = g.add_node("h", Einsum::new("mk,kn->mn").unwrap(), &[ValueId::new(xe, 0), w8]).unwrap();
    let y = g.add_node("y", Einsum::new("mk,kn->mn").unwrap(), &[ValueId::new(h, 0), w12]).unwrap();
    let z = g.add_node("z", Binary { op: BinaryOp::Add }, &[ValueId::new(y, 0), b24]).unwrap();
    let o = g.add_node("o", Binary { op: BinaryOp::Add }, &[ValueId::new(z, 0), c40]).unwrap();
    g.set_outputs(vec![ValueId::new(o, 0)]);
    g
}

fn const_data<'a>(g: &'a Graph, name: &str) -> &'a zkml_ir::TensorData {
    let (_, n) = g.nodes().find(|(_, n)| n.name == name).unwrap();
    let zkml_ir::Op::Const(c) = &n.op else { panic!("{name} is not a constant") };
    c.value.data()
}

/// Quantized constants are stored at the narrowest width of their bit
/// range, read back at that width, and evaluate exactly as the `i64`
/// originals (ops that compute see `i64`; the gather keeps the narrow rows).
#[test]
fn quantized_constants_are_stored_narrow_and_evaluate_identically() {
    use zkml_ir::TensorData;
    let g = quantized_graph();
    let x = vec![Tensor::from_i64([2, 3], vec![1, -2, 3, 127, -127, 0]).unwrap()];
    let bytes = Plan::new(g.clone()).to_bytes().unwrap();
    let back = Plan::from_bytes(&bytes).unwrap();
    assert!(matches!(const_data(&back.graph, "w8"), TensorData::I8(_)));
    assert!(matches!(const_data(&back.graph, "w12"), TensorData::I16(_)));
    assert!(matches!(const_data(&back.graph, "b24"), TensorData::I32(_)));
    assert!(matches!(const_data(&back.graph, "c40"), TensorData::I64(_)));
    assert!(matches!(const_data(&back.graph, "emb"), TensorData::I8(_)));
    assert!(matches!(const_data(&back.graph, "ids"), TensorData::I64(_)));
    let all = back.graph.eval_all(&x).unwrap();
    let embed = back.graph.nodes().position(|(_, n)| n.name == "embed").unwrap();
    assert!(matches!(all[embed][0].data(), TensorData::I8(_)), "a gather moves narrow data as it is");
    assert_eq!(back.graph.eval(&x).unwrap(), g.eval(&x).unwrap());
    // Same values, same digests: the text form (digests of the constants'
    // canonical i64 bytes) does not depend on the storage width.
    assert_eq!(back.graph.to_text(), g.to_text());
    // The blob holds 1 + 2 + 4 + 8 + 1 bytes per element of the five
    // quantized constants (12 + 40 + 20 + 40 + 18 bytes), not 8 each.
    let blob_len = u64::from_le_bytes(bytes[32..40].try_into().unwrap());
    assert!(blob_len < 8 * (12 + 20 + 5 + 5 + 18), "blob of {blob_len} bytes");
    assert_eq!(Plan::new(back.graph).to_bytes().unwrap(), bytes);
}

/// A stored value inside its storage width but outside its fact's bit
/// range (a 12-bit weight of 2047 + 1, held in 16 bits) is refused at
/// load, even with the file's hash recomputed to match.
#[test]
fn narrow_value_outside_its_bit_range_is_rejected() {
    let bytes = Plan::new(quantized_graph()).to_bytes().unwrap();
    let back = Plan::from_bytes(&bytes).unwrap();
    let zkml_ir::TensorData::I16(w) = const_data(&back.graph, "w12") else { panic!("w12 not 16-bit") };
    let (b_off, b_len) = (
        u64::from_le_bytes(bytes[24..32].try_into().unwrap()) as usize,
        u64::from_le_bytes(bytes[32..40].try_into().unwrap()) as usize,
    );
    let blob = &bytes[b_off..b_off + b_len];
    let needle: Vec<u8> = w.iter().flat_map(|x| x.to_le_bytes()).collect();
    let at = b_off + blob.windows(needle.len()).position(|s| s == needle).unwrap();
    let mut bad = bytes.clone();
    bad[at..at + 2].copy_from_slice(&2048i16.to_le_bytes());
    let hash = blake3::hash(&bad[72..b_off + b_len]);
    bad[40..72].copy_from_slice(hash.as_bytes());
    let err = Plan::from_bytes(&bad).unwrap_err();
    assert!(err.to_string().contains("overflows"), "{err}");
}
