//! Sumcheck: completeness on random instances, and a malicious prover that
//! changes any single message is rejected.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use p3_field::PrimeCharacteristicRing;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use zkml_proof::sumcheck::{
    self, Claims, SumcheckError, SumcheckProof, Table, Term, reduce_claims_prove, reduce_claims_verify,
};
use zkml_proof::{EF, F, Poseidon2Transcript, mle};

fn rand_ext(rng: &mut StdRng) -> EF {
    use p3_field::BasedVectorSpace;
    EF::from_basis_coefficients_fn(|_| F::from_u64(rng.random()))
}

/// A random statement: `m` base tables in `n` variables, random terms of
/// degree ≤ `max_deg`, and its true claim (computed naively).
fn instance(n: usize, m: usize, max_deg: usize, seed: u64) -> (Vec<Vec<F>>, Vec<Term>, EF) {
    let mut rng = StdRng::seed_from_u64(seed);
    let tables: Vec<Vec<F>> =
        (0..m).map(|_| (0..1usize << n).map(|_| F::from_u64(rng.random::<u64>() >> 1)).collect()).collect();
    let mut terms: Vec<Term> = (0..rng.random_range(1..4))
        .map(|_| Term {
            coeff: rand_ext(&mut rng),
            factors: (0..rng.random_range(1..=max_deg)).map(|_| rng.random_range(0..m)).collect(),
        })
        .collect();
    // Statements must use every table.
    for j in 0..m {
        if !terms.iter().any(|t| t.factors.contains(&j)) {
            terms.push(Term { coeff: rand_ext(&mut rng), factors: vec![j] });
        }
    }
    let claim = (0..1usize << n)
        .map(|x| {
            terms
                .iter()
                .map(|t| t.coeff * t.factors.iter().map(|&j| EF::from(tables[j][x])).product::<EF>())
                .sum::<EF>()
        })
        .sum();
    (tables, terms, claim)
}

fn prove(tables: &[Vec<F>], terms: &[Term], claim: EF) -> (SumcheckProof, Claims) {
    let mut t = Poseidon2Transcript::new(b"test");
    sumcheck::prove(tables.iter().cloned().map(Table::Base).collect(), terms, claim, &mut t).unwrap()
}

fn verify(
    n: usize,
    m: usize,
    terms: &[Term],
    claim: EF,
    proof: &SumcheckProof,
) -> Result<Claims, SumcheckError> {
    let mut t = Poseidon2Transcript::new(b"test");
    sumcheck::verify(n, m, terms, claim, proof, &mut t)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn completeness_and_true_final_claims(n in 1usize..7, m in 1usize..4, deg in 1usize..5, seed in any::<u64>()) {
        let (tables, terms, claim) = instance(n, m, deg, seed);
        let (proof, pclaims) = prove(&tables, &terms, claim);
        let vclaims = verify(n, m, &terms, claim, &proof).unwrap();
        prop_assert_eq!(&pclaims, &vclaims);
        // The claims left over are true evaluations of the tables.
        for (j, tab) in tables.iter().enumerate() {
            prop_assert_eq!(mle::evaluate(tab, &vclaims.point), vclaims.evals[j]);
        }
    }

    #[test]
    fn false_claim_is_rejected(n in 1usize..6, deg in 1usize..4, seed in any::<u64>(), delta in 1u64..u64::MAX) {
        let (tables, terms, claim) = instance(n, 2, deg, seed);
        let wrong = claim + EF::from(F::from_u64(delta));
        let (proof, _) = prove(&tables, &terms, wrong);
        prop_assert!(verify(n, 2, &terms, wrong, &proof).is_err());
    }
}

#[test]
fn thousands_of_single_message_mutations_are_all_rejected() {
    let mut rng = StdRng::seed_from_u64(42);
    let mut accepted = 0;
    let mut tried = 0;
    for case in 0..40 {
        let n = 1 + case % 6;
        let (tables, terms, claim) = instance(n, 3, 1 + case % 4, case as u64);
        let (proof, _) = prove(&tables, &terms, claim);
        assert!(verify(n, 3, &terms, claim, &proof).is_ok());
        for _ in 0..60 {
            let mut bad = proof.clone();
            let delta = rand_ext(&mut rng);
            if delta == EF::ZERO {
                continue;
            }
            // Change one round value or one final evaluation.
            let slots: usize = bad.rounds.iter().map(|r| r.len()).sum::<usize>() + bad.evals.len();
            let mut k = rng.random_range(0..slots);
            let mut done = false;
            for r in bad.rounds.iter_mut() {
                if k < r.len() {
                    r[k] += delta;
                    done = true;
                    break;
                }
                k -= r.len();
            }
            if !done {
                bad.evals[k] += delta;
            }
            tried += 1;
            if verify(n, 3, &terms, claim, &bad).is_ok() {
                accepted += 1;
            }
        }
    }
    assert!(tried > 2000);
    assert_eq!(accepted, 0, "{accepted} of {tried} mutated proofs accepted");
}

#[test]
fn malformed_proofs_are_errors_not_panics() {
    let (tables, terms, claim) = instance(3, 2, 2, 7);
    let (proof, _) = prove(&tables, &terms, claim);
    let mut short = proof.clone();
    short.rounds.pop();
    assert!(matches!(verify(3, 2, &terms, claim, &short), Err(SumcheckError::RoundCount { .. })));
    let mut long = proof.clone();
    long.rounds[1].push(EF::ONE);
    assert!(matches!(verify(3, 2, &terms, claim, &long), Err(SumcheckError::RoundLength { .. })));
    let mut few = proof.clone();
    few.evals.pop();
    assert!(matches!(verify(3, 2, &terms, claim, &few), Err(SumcheckError::EvalCount { .. })));
    let bad_terms = vec![Term { coeff: EF::ONE, factors: vec![5] }];
    assert!(matches!(verify(3, 2, &bad_terms, claim, &proof), Err(SumcheckError::Statement(_))));
    let unused = vec![Term { coeff: EF::ONE, factors: vec![0] }];
    assert!(matches!(verify(3, 2, &unused, claim, &proof), Err(SumcheckError::Statement(_))));
}

#[test]
fn batching_is_complete_and_binds_every_claim() {
    let (t1, s1, c1) = instance(4, 2, 2, 1);
    let (t2, s2, c2) = instance(4, 3, 3, 2);
    let statements = vec![(2, s1.clone(), c1), (3, s2.clone(), c2)];
    let mut tp = Poseidon2Transcript::new(b"batch");
    let (terms, claim, _) = sumcheck::batch(&statements, &mut tp);
    let tables: Vec<Table> = t1.iter().chain(&t2).cloned().map(Table::Base).collect();
    let (proof, _) = sumcheck::prove(tables, &terms, claim, &mut tp).unwrap();
    let mut tv = Poseidon2Transcript::new(b"batch");
    let (vterms, vclaim, _) = sumcheck::batch(&statements, &mut tv);
    let out = sumcheck::verify(4, 5, &vterms, vclaim, &proof, &mut tv).unwrap();
    for (j, tab) in t1.iter().chain(&t2).enumerate() {
        assert_eq!(mle::evaluate(tab, &out.point), out.evals[j]);
    }
    // A wrong second claim makes the batched proof fail.
    let bad = vec![(2, s1, c1), (3, s2, c2 + EF::ONE)];
    let mut tv = Poseidon2Transcript::new(b"batch");
    let (vterms, vclaim, _) = sumcheck::batch(&bad, &mut tv);
    assert!(sumcheck::verify(4, 5, &vterms, vclaim, &proof, &mut tv).is_err());
}

#[test]
fn claim_reduction_turns_many_claims_into_one_true_claim() {
    let mut rng = StdRng::seed_from_u64(9);
    let n = 5;
    let f: Vec<F> = (0..1 << n).map(|_| F::from_u64(rng.random())).collect();
    let claims: Vec<(Vec<EF>, EF)> = (0..3)
        .map(|_| {
            let z: Vec<EF> = (0..n).map(|_| rand_ext(&mut rng)).collect();
            let v = mle::evaluate(&f, &z);
            (z, v)
        })
        .collect();
    let mut tp = Poseidon2Transcript::new(b"reduce");
    let (proof, _) = reduce_claims_prove(&f, &claims, &mut tp).unwrap();
    let mut tv = Poseidon2Transcript::new(b"reduce");
    let (r, v) = reduce_claims_verify(n, &claims, &proof, &mut tv).unwrap();
    assert_eq!(mle::evaluate(&f, &r), v);
    // One wrong claimed value among several is caught.
    let mut wrong = claims.clone();
    wrong[1].1 += EF::ONE;
    let mut tp = Poseidon2Transcript::new(b"reduce");
    let (proof, _) = reduce_claims_prove(&f, &wrong, &mut tp).unwrap();
    let mut tv = Poseidon2Transcript::new(b"reduce");
    assert!(reduce_claims_verify(n, &wrong, &proof, &mut tv).is_err());
}

/// Base and extension tables give the same proof: the mixed-table round
/// (base tables read in place) agrees with converting every table first.
#[test]
fn mixed_base_and_extension_tables_prove_the_same() {
    for seed in 0..4 {
        let (tables, terms, claim) = instance(7, 3, 3, 100 + seed);
        let mixed: Vec<Table> = tables
            .iter()
            .enumerate()
            .map(|(j, t)| {
                if j % 2 == 0 {
                    Table::Base(t.clone())
                } else {
                    Table::Ext(t.iter().map(|&x| EF::from(x)).collect())
                }
            })
            .collect();
        let ext: Vec<Table> =
            tables.iter().map(|t| Table::Ext(t.iter().map(|&x| EF::from(x)).collect())).collect();
        let (a, _) = sumcheck::prove(mixed, &terms, claim, &mut Poseidon2Transcript::new(b"t")).unwrap();
        let (b, _) = sumcheck::prove(ext, &terms, claim, &mut Poseidon2Transcript::new(b"t")).unwrap();
        assert_eq!(a, b);
    }
}
