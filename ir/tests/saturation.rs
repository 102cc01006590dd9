//! Which saturations change a lookup's answer.

use zkml_ir::QType;
use zkml_ir::ops::lookup::{Domain, LookupFn, LookupQuant, Requant, TableSpec};

fn lookup(func: LookupFn, domain: QType, out: QType, requant: Requant) -> LookupQuant {
    LookupQuant {
        input: QType::new(20, 1.0 / 1024.0),
        requant,
        table: TableSpec { func, domain: Domain::Linear(domain), out },
    }
}

#[test]
fn saturation_that_changes_the_output_is_harmful() {
    // Identity onto an 8-bit domain (±127): 200 becomes 127.
    let d = QType::new(8, 1.0);
    let q = lookup(LookupFn::Identity, d, d, Requant::IDENTITY);
    assert!(!q.saturates_harmfully(127));
    assert!(!q.saturates_harmfully(-127));
    assert!(q.saturates_harmfully(200));
    assert!(q.saturates_harmfully(-128));
    // ReLU: only the positive side changes the answer.
    let r = lookup(LookupFn::Relu, d, d, Requant::IDENTITY);
    assert!(r.saturates_harmfully(300));
    assert!(!r.saturates_harmfully(-300));
}

#[test]
fn flat_tails_and_sign_domains_saturate_harmlessly() {
    // exp on [-8, 8] into outputs of step 2^-10: exp(-20) rounds to 0 as
    // exp(-8) does.
    let d = QType::new(8, 8.0 / 127.0);
    let q = lookup(LookupFn::Exp, d, QType::new(16, 1.0 / 1024.0), Requant::IDENTITY);
    assert!(!q.saturates_harmfully(-300));
    assert!(q.saturates_harmfully(300));
    // The sign of any integer: saturating is the point.
    let b = QType::new(2, 1.0);
    let s = lookup(LookupFn::Relu, b, b, Requant::IDENTITY);
    assert!(s.is_sign_domain());
    assert!(!s.saturates_harmfully(1 << 18));
    assert!(!s.saturates_harmfully(-(1 << 18)));
}
