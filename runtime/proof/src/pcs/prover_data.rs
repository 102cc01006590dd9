//! The prover data of a commitment: codeword and Merkle tree, in memory
//! or stored (leaves grouped by residue, read at offsets).

use super::*;

impl ProverData {
    pub fn num_vars(&self) -> usize {
        self.num_vars
    }
    pub fn num_polys(&self) -> usize {
        self.num_polys
    }
    pub fn log_blowup(&self) -> usize {
        self.log_blowup
    }
    pub(super) fn width(&self) -> usize {
        self.num_polys << self.log_rows
    }
    pub(super) fn cols(&self) -> usize {
        1 << (self.num_vars - self.log_rows)
    }

    /// Element offset of leaf `j` in the codeword storage.
    pub(super) fn leaf_at(&self, j: usize) -> usize {
        let b = self.log_blowup;
        let slot = if self.grouped { ((j & ((1 << b) - 1)) * self.cols()) | (j >> b) } else { j };
        slot * self.width()
    }

    /// Polynomial `p` of the batch (its `2^n` evaluations), read back from
    /// the codeword.
    pub fn poly(&self, p: usize) -> Vec<F> {
        let (rows, cols, b) = (1usize << self.log_rows, self.cols(), self.log_blowup);
        let mut out = vec![F::ZERO; rows * cols];
        out.par_chunks_mut(rows).enumerate().for_each(|(col, dst)| {
            self.codeword.with_range(self.leaf_at(col << b) + p * rows, rows, |src| dst.copy_from_slice(src));
        });
        out
    }

    /// `Σ_row w[row] · M_p[row, ·]` for every polynomial `p` (the leaves of
    /// the message part are read once): `k` vectors of `2^c` entries.
    pub(super) fn combine_rows(&self, w: &[EF]) -> Vec<Vec<EF>> {
        let (rows, cols, width, b) = (1usize << self.log_rows, self.cols(), self.width(), self.log_blowup);
        let combine = |leaf: &[F]| -> Vec<EF> {
            leaf.chunks(rows).map(|m| w.iter().zip(m).map(|(&e, &x)| e * x).sum()).collect()
        };
        // Stored leaves are grouped, so the message leaves are one run: read
        // it in blocks of about 1 MB (one read each from a file), not leaf
        // by leaf.
        let block = if self.grouped { ((1 << 17) / width).clamp(1, cols) } else { 1 };
        let per_col: Vec<Vec<EF>> = (0..cols.div_ceil(block))
            .into_par_iter()
            .flat_map_iter(|i| {
                let (c0, n) = (i * block, block.min(cols - i * block));
                self.codeword.with_range(self.leaf_at(c0 << b), n * width, |run| {
                    run.chunks(width).map(combine).collect::<Vec<_>>()
                })
            })
            .collect();
        (0..self.num_polys).map(|p| per_col.iter().map(|c| c[p]).collect()).collect()
    }

    /// Appends the stored form: four little-endian `u64` (variables,
    /// polynomials, `log2` rows, `log2` blowup), then the codeword and the
    /// tree's digests, each at a 64-byte aligned offset.
    pub fn write(&self, out: &mut Vec<u8>) {
        // Writing into a vector cannot fail.
        let _ = self.write_to(out);
    }

    /// [`ProverData::write`] into any writer, streaming (a large model's
    /// codeword is written without a second copy in memory); returns the
    /// number of bytes written.
    pub fn write_to(&self, w: &mut dyn std::io::Write) -> std::io::Result<u64> {
        let mut n = 0u64;
        let pad = |w: &mut dyn std::io::Write, n: &mut u64| -> std::io::Result<()> {
            let to = n.div_ceil(64) * 64;
            w.write_all(&vec![0u8; (to - *n) as usize])?;
            *n = to;
            Ok(())
        };
        for v in [self.num_vars, self.num_polys, self.log_rows, self.log_blowup] {
            w.write_all(&(v as u64).to_le_bytes())?;
            n += 8;
        }
        pad(w, &mut n)?;
        let width = self.width();
        let mut buf = Vec::with_capacity(width * 8);
        for residue in 0..1usize << self.log_blowup {
            for m in 0..self.cols() {
                buf.clear();
                self.codeword.with_range(self.leaf_at((m << self.log_blowup) | residue), width, |leaf| {
                    leaf.iter().for_each(|x| buf.extend_from_slice(&x.as_canonical_u64().to_le_bytes()))
                });
                w.write_all(&buf)?;
                n += buf.len() as u64;
            }
        }
        pad(w, &mut n)?;
        let mut digests = vec![];
        self.tree.nodes().write(&mut digests);
        w.write_all(&digests)?;
        n += digests.len() as u64;
        pad(w, &mut n)?;
        Ok(n)
    }

    /// Reads prover data written by [`ProverData::write`] at `start` of
    /// `bytes` (without copying the codeword or the tree); returns it and
    /// the offset just past it. Sizes are checked; contents are trusted
    /// (the caller hashes the file).
    pub fn read(src: &Source, start: usize) -> Result<(ProverData, usize), PcsError> {
        let total = src.byte_len().map_err(|e| PcsError::Stored(e.to_string()))?;
        let mut head = [0u8; 32];
        if start.checked_add(32).is_none_or(|e| e > total) || src.read_at(start, &mut head).is_err() {
            return Err(PcsError::Stored("truncated header".into()));
        }
        let u = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&head[i * 8..i * 8 + 8]);
            u64::from_le_bytes(w) as usize
        };
        let (num_vars, num_polys, log_rows, log_blowup) = (u(0), u(1), u(2), u(3));
        if num_vars > 34 || num_polys == 0 || num_polys > 1 << 16 || log_rows > num_vars || log_blowup > 4 {
            return Err(PcsError::Stored(format!(
                "parameters n={num_vars} k={num_polys} r={log_rows} b={log_blowup}"
            )));
        }
        let log_height = num_vars - log_rows + log_blowup;
        let words = (num_polys << log_rows) << log_height;
        let digests = (2usize << log_height) - 1;
        let code_at = start + 64;
        let tree_at = code_at + (words * 8).div_ceil(64) * 64;
        let end = tree_at + (digests * 32).div_ceil(64) * 64;
        let map = |at: usize, len: usize| {
            Mapped::new(src.clone(), at, len).ok_or_else(|| PcsError::Stored("truncated data".into()))
        };
        let codeword = Words::Mapped(map(code_at, words * 8)?);
        let tree = MerkleTree::from_stored(log_height, Digests::Mapped(map(tree_at, digests * 32)?))?;
        if end > total {
            return Err(PcsError::Stored("truncated data".into()));
        }
        Ok((ProverData { num_vars, num_polys, log_rows, log_blowup, codeword, grouped: true, tree }, end))
    }

    pub fn root(&self) -> Root {
        self.tree.root()
    }

    /// The queried leaves and their Merkle paths.
    pub(super) fn open_queries(&self, indices: &[usize]) -> Result<(Vec<Vec<F>>, MultiPath), PcsError> {
        let columns = indices.iter().map(|&j| self.codeword.range(self.leaf_at(j), self.width())).collect();
        Ok((columns, self.tree.open(indices)?))
    }
}
