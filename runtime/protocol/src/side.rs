//! The two sides of the protocol behind one interface.
//!
//! Every step of the graph proof is written once, generic over [`Side`]:
//! the prover's side computes each message from the witness and writes it,
//! the verifier's side reads the same message from the proof and checks it
//! (as Plonky3 runs one constraint definition through a prover folder and
//! a verifier folder). Transcript labels, challenges, the order of
//! messages and the order of the claims both sides collect are therefore
//! the same code, and cannot drift apart.
//!
//! * [`Side::message`]: a vector of evaluations. The closure that computes
//!   it only runs on the prover's side (it reads the [`Witness`]).
//! * [`Side::sumcheck`], [`Side::logup`], [`Side::merge`]: a sub-protocol,
//!   proven or verified; both return the claims it ends in.
//! * [`Side::check`]: an equation the verifier checks on what it read. The
//!   prover's messages satisfy it by construction when the witness is
//!   honest; a dishonest witness is the verifier's to reject, so the
//!   prover's side does not check (soundness tests run dishonest provers to
//!   the end).
//! * [`Side::ensure`]: a structural condition (a function of the key alone);
//!   both sides fail on it.
//! * [`Side::claim`]: routes a claim on a value (see [`Route`]); the
//!   verifier's side checks claims on public inputs and inline constants
//!   at once.

use crate::columns::ColumnPlan;
use crate::layout::Layout;
use crate::ops::{self, Route};
use crate::packing::Claim;
use crate::vk::VerifyingKey;
use crate::{Error, Result};
use std::borrow::Cow;
use std::collections::BTreeMap;
use zkml_ir::{Tensor, ValueId};
use zkml_proof::logup::LookupClaims;
use zkml_proof::mle::evaluate;
use zkml_proof::sumcheck::{Claims, Table, Term};
use zkml_proof::{EF, F, Poseidon2Transcript};

/// What only the prover has: the executor's values and the committed
/// columns of one partition.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Witness<'a> {
    pub vk: &'a VerifyingKey,
    pub cols: &'a ColumnPlan,
    pub col_data: &'a [Vec<F>],
    pub values: &'a [Vec<Tensor>],
}

impl<'a> Witness<'a> {
    fn tensor(&self, v: ValueId) -> Result<&'a Tensor> {
        self.values
            .get(v.node)
            .and_then(|n| n.get(v.slot))
            .ok_or_else(|| Error::Internal(format!("witness lacks {v}")))
    }

    /// A value's integers (borrowed unless stored narrow).
    pub fn ints(&self, v: ValueId) -> Result<Cow<'a, [i64]>> {
        self.tensor(v)?.as_i64().map_err(|e| Error::Internal(format!("witness {v}: {e}")))
    }

    /// The padded field table of a value.
    pub fn padded(&self, v: ValueId) -> Result<Vec<F>> {
        layout_of(self.vk, v)
            .pad_data(self.tensor(v)?.data())
            .ok_or_else(|| Error::Internal(format!("witness {v} holds no integers")))
    }

    /// A committed column.
    pub fn col(&self, col: usize) -> &'a [F] {
        &self.col_data[col]
    }
}

/// The claims a side collects while it walks the graph (an opening
/// accumulator): claims waiting for a node's reduction, and those the
/// final openings prove.
#[derive(Debug, Default)]
pub(crate) struct Accumulator {
    /// Claims on intermediate values, by value, until their producer's turn.
    pub graph: BTreeMap<ValueId, Vec<Claim>>,
    /// Claims on committed witness columns (the packed witness opening).
    pub cols: Vec<(usize, Claim)>,
    /// Claims on committed weights (the weight opening).
    pub weights: Vec<(usize, Claim)>,
}

/// The layout of a value (empty if it does not exist; keys are validated
/// before any proof step runs).
pub(crate) fn layout_of(vk: &VerifyingKey, v: ValueId) -> Layout {
    Layout::new(&crate::columns::shape_of(vk, v))
}

/// One side of the protocol (see the module docs).
pub(crate) trait Side {
    fn vk(&self) -> &VerifyingKey;
    fn cols(&self) -> &ColumnPlan;
    fn transcript(&mut self) -> &mut Poseidon2Transcript;
    fn acc(&mut self) -> &mut Accumulator;

    /// A message of `n` evaluations: computed by `compute` and sent (the
    /// prover), or read (the verifier); absorbed either way.
    fn message(
        &mut self,
        n: usize,
        what: &str,
        compute: impl FnOnce(&Witness<'_>) -> Result<Vec<EF>>,
    ) -> Result<Vec<EF>>;

    /// A sumcheck of `Σ_x Σ_t c_t Π f_j(x) = claim` over `vars` variables
    /// and `tables` tables (built by `build` on the prover's side).
    fn sumcheck(
        &mut self,
        vars: usize,
        tables: usize,
        terms: &[Term],
        claim: EF,
        what: &str,
        build: impl FnOnce(&Witness<'_>) -> Result<Vec<Table>>,
    ) -> Result<Claims>;

    /// A logUp-GKR argument: `2^log_n` rows of looked-up columns (built by
    /// `columns` on the prover's side) in `table`, with multiplicities in
    /// committed column `mult`.
    fn logup(
        &mut self,
        log_n: usize,
        table: &[Vec<F>],
        mult: usize,
        what: &str,
        columns: impl FnOnce(&Witness<'_>) -> Result<Vec<Vec<F>>>,
    ) -> Result<LookupClaims>;

    /// Several claims on value `v` become one (a sumcheck over the value).
    fn merge(&mut self, v: ValueId, claims: Vec<Claim>) -> Result<Claim>;

    /// An equation the verifier checks (see the module docs); `ok` is
    /// only evaluated on the verifier's side.
    fn check(&self, ok: impl FnOnce() -> bool, msg: impl FnOnce() -> String) -> Result<()>;

    /// A structural condition: a broken one fails either side.
    fn ensure(&self, ok: bool, msg: impl FnOnce() -> String) -> Result<()>;

    /// Checks a claim on a public input or an inline constant (the
    /// verifier's side; the prover's has nothing to check).
    fn check_public(&self, route: Route, v: ValueId, c: &Claim) -> Result<()>;

    /// The evaluation of model output `o` at `point`: from the witness
    /// (prover) or from the statement (verifier).
    fn output_eval(&self, o: ValueId, point: &[EF]) -> Result<EF>;

    /// The integers of public input node `node`: from the witness (prover)
    /// or from the statement (verifier).
    fn public_input(&self, node: usize) -> Result<Vec<i64>>;

    fn layout(&self, v: ValueId) -> Layout {
        layout_of(self.vk(), v)
    }

    /// Records a claim on a committed column (its value already sent).
    fn col_claim(&mut self, col: usize, point: &[EF], value: EF) {
        self.acc().cols.push((col, Claim { point: point.to_vec(), value }));
    }

    /// Opens committed columns, each at its point: the values are one
    /// message, and each becomes a column claim.
    fn open(&mut self, at: &[(usize, &[EF])], what: &str) -> Result<Vec<EF>> {
        let ev = self.message(at.len(), what, |w| {
            Ok(at.iter().map(|&(col, point)| evaluate(w.col(col), point)).collect())
        })?;
        for (&(col, point), &e) in at.iter().zip(&ev) {
            self.col_claim(col, point, e);
        }
        Ok(ev)
    }

    /// Opens committed columns all at one point.
    fn open_at(&mut self, cols: &[usize], point: &[EF], what: &str) -> Result<Vec<EF>> {
        let at: Vec<(usize, &[EF])> = cols.iter().map(|&c| (c, point)).collect();
        self.open(&at, what)
    }

    /// Routes a claim on a value to where it is proven.
    fn claim(&mut self, v: ValueId, c: Claim) -> Result<()> {
        let route = ops::route(self.vk(), self.cols(), v)?;
        match route {
            Route::Input(_) | Route::Inline => self.check_public(route, v, &c)?,
            Route::Weight(t) => self.acc().weights.push((t, c)),
            Route::Column(col) => self.acc().cols.push((col, c)),
            Route::Graph => self.acc().graph.entry(v).or_default().push(c),
        }
        Ok(())
    }
}
