//! A binary Merkle tree over the rows of a matrix, with BLAKE3.
//!
//! Leaf `j` is row `j` of a `height × width` matrix of field elements
//! (`height` a power of two); its digest is
//! `BLAKE3(0x00 ‖ le64(row[0]) ‖ … ‖ le64(row[width−1]))`, an inner node is
//! `BLAKE3(0x01 ‖ left ‖ right)`. The prefixes separate leaves from inner
//! nodes, so no leaf can be passed off as a node (second preimages).
//!
//! **Multi-openings.** The proof of a set of leaves lists, layer by layer
//! from the bottom and in increasing index order, the sibling digests the
//! verifier cannot compute from what it already has; queries that share a
//! path share its digests.
//!
//! **Why not `p3-merkle-tree`.** Plonky3's tree owns its leaves and layers
//! as private vectors. The weights' tree is built once by `zkc compile` and
//! must be read from a mapped `plan.bin` without rebuilding or copying it
//! ([`crate::store`]); this tree keeps its layers in one flat array that
//! can live in the file. BLAKE3 (the hash `plan.bin` already uses) hashes
//! the leaves several times faster than Keccak here.
//!
//! Security: collision resistance of BLAKE3 (128 bits against collisions
//! for the 256-bit output).

use crate::F;
use crate::store::{Digests, Words};
use p3_field::PrimeField64;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub type Digest = [u8; 32];

/// The root: what a commitment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Root(pub Digest);

fn hash_leaf(row: &[F]) -> Digest {
    let mut h = blake3::Hasher::new();
    h.update(&[0]);
    let mut buf = [0u8; 8 * 64];
    for chunk in row.chunks(64) {
        for (i, x) in chunk.iter().enumerate() {
            buf[i * 8..i * 8 + 8].copy_from_slice(&x.as_canonical_u64().to_le_bytes());
        }
        h.update(&buf[..chunk.len() * 8]);
    }
    *h.finalize().as_bytes()
}

fn hash_node(l: &Digest, r: &Digest) -> Digest {
    let mut h = blake3::Hasher::new();
    h.update(&[1]);
    h.update(l);
    h.update(r);
    *h.finalize().as_bytes()
}

/// The tree's digest layers, bottom (leaf digests) first, flat:
/// `2·height − 1` digests.
#[derive(Debug)]
pub struct MerkleTree {
    log_height: usize,
    nodes: Digests,
}

/// Sibling digests for a set of opened leaves (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MultiPath(pub Vec<Digest>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MerkleError {
    #[error("leaf index {0} out of range")]
    Index(usize),
    #[error("opening has {found} sibling digests, expected {expected}")]
    PathLength { found: usize, expected: usize },
    #[error("computed root differs from the commitment")]
    Root,
    #[error("stored tree has {found} digests, expected {expected}")]
    Stored { found: usize, expected: usize },
}

/// Offset of layer `l` (0 = leaves) in the flat array of a tree of height
/// `2^h`: layers have `2^h, 2^(h-1), …, 1` digests.
fn layer_offset(h: usize, l: usize) -> usize {
    (0..l).map(|i| 1usize << (h - i)).sum()
}

impl MerkleTree {
    /// Builds the tree over the rows of `matrix` (`2^log_height` rows of
    /// `width` elements).
    pub fn build(matrix: &Words, width: usize, log_height: usize) -> MerkleTree {
        let height = 1usize << log_height;
        let mut nodes: Vec<Digest> = vec![[0; 32]; 2 * height - 1];
        nodes[..height]
            .par_iter_mut()
            .enumerate()
            .for_each(|(j, d)| *d = matrix.with_range(j * width, width, hash_leaf));
        for l in 1..=log_height {
            let (below, above) = nodes.split_at_mut(layer_offset(log_height, l));
            let below = &below[layer_offset(log_height, l - 1)..];
            above[..height >> l]
                .par_iter_mut()
                .enumerate()
                .for_each(|(i, d)| *d = hash_node(&below[2 * i], &below[2 * i + 1]));
        }
        MerkleTree { log_height, nodes: Digests::Owned(nodes) }
    }

    /// A stored tree (its flat digest array), checked for length.
    pub fn from_stored(log_height: usize, nodes: Digests) -> Result<MerkleTree, MerkleError> {
        let expected = (2usize << log_height) - 1;
        if nodes.len() != expected {
            return Err(MerkleError::Stored { found: nodes.len(), expected });
        }
        Ok(MerkleTree { log_height, nodes })
    }

    pub fn root(&self) -> Root {
        Root(self.nodes.get(self.nodes.len() - 1))
    }
    pub fn log_height(&self) -> usize {
        self.log_height
    }
    pub fn nodes(&self) -> &Digests {
        &self.nodes
    }

    /// The sibling digests proving the leaves at `indices`.
    pub fn open(&self, indices: &[usize]) -> Result<MultiPath, MerkleError> {
        let h = self.log_height;
        let mut known = sorted_unique(indices, h)?;
        let mut out = vec![];
        for l in 0..h {
            let base = layer_offset(h, l);
            for (pos, &i) in known.iter().enumerate() {
                let sib = i ^ 1;
                let have = if i & 1 == 0 {
                    known.get(pos + 1) == Some(&sib)
                } else {
                    pos > 0 && known[pos - 1] == sib
                };
                if !have {
                    out.push(self.nodes.get(base + sib));
                }
            }
            known = parents(&known);
        }
        Ok(MultiPath(out))
    }
}

fn sorted_unique(indices: &[usize], h: usize) -> Result<Vec<usize>, MerkleError> {
    if let Some(&bad) = indices.iter().find(|&&i| i >> h != 0) {
        return Err(MerkleError::Index(bad));
    }
    let mut v = indices.to_vec();
    v.sort_unstable();
    v.dedup();
    Ok(v)
}

fn parents(known: &[usize]) -> Vec<usize> {
    let mut p: Vec<usize> = known.iter().map(|i| i >> 1).collect();
    p.dedup();
    p
}

/// Checks that `leaves[q]` is row `indices[q]` of the matrix committed by
/// `root` (a tree of `2^log_height` leaves). Repeated indices must carry the
/// same row.
pub fn verify(
    root: &Root,
    log_height: usize,
    indices: &[usize],
    leaves: &[&[F]],
    path: &MultiPath,
) -> Result<(), MerkleError> {
    let h = log_height;
    let known_idx = sorted_unique(indices, h)?;
    // Digest of every distinct opened leaf; a repeated index with a
    // different row is rejected (it cannot match the one digest).
    let mut level: Vec<(usize, Digest)> = Vec::with_capacity(known_idx.len());
    for &i in &known_idx {
        let mut d: Option<Digest> = None;
        for (q, _) in indices.iter().enumerate().filter(|(_, j)| **j == i) {
            let dq = hash_leaf(leaves[q]);
            if d.is_some_and(|d| d != dq) {
                return Err(MerkleError::Root);
            }
            d = Some(dq);
        }
        level.push((i, d.ok_or(MerkleError::Index(i))?));
    }
    let mut sib = path.0.iter();
    let mut used = 0usize;
    for _ in 0..h {
        let mut next: Vec<(usize, Digest)> = Vec::with_capacity(level.len());
        let mut pos = 0;
        while pos < level.len() {
            let (i, d) = level[pos];
            let (l, r) = if i & 1 == 0 {
                if level.get(pos + 1).is_some_and(|&(j, _)| j == i + 1) {
                    pos += 1;
                    (d, level[pos].1)
                } else {
                    used += 1;
                    (d, *sib.next().ok_or(MerkleError::PathLength { found: path.0.len(), expected: used })?)
                }
            } else {
                used += 1;
                (*sib.next().ok_or(MerkleError::PathLength { found: path.0.len(), expected: used })?, d)
            };
            next.push((i >> 1, hash_node(&l, &r)));
            pos += 1;
        }
        level = next;
    }
    if used != path.0.len() {
        return Err(MerkleError::PathLength { found: path.0.len(), expected: used });
    }
    match level.as_slice() {
        [(0, d)] if *d == root.0 => Ok(()),
        _ => Err(MerkleError::Root),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use p3_field::PrimeCharacteristicRing;

    fn matrix(h: usize, w: usize) -> Vec<F> {
        (0..(w << h) as u64).map(|i| F::from_u64(i * 7919 + 3)).collect()
    }

    #[test]
    fn openings_verify_and_tampering_is_rejected() {
        for (h, w) in [(0, 3), (1, 1), (4, 5), (7, 2)] {
            let m = matrix(h, w);
            let tree = MerkleTree::build(&Words::Owned(m.clone()), w, h);
            let root = tree.root();
            let n = 1usize << h;
            let indices: Vec<usize> = (0..9).map(|q| (q * 5 + 1) % n).collect();
            let rows: Vec<&[F]> = indices.iter().map(|&j| &m[j * w..(j + 1) * w]).collect();
            let path = tree.open(&indices).unwrap();
            verify(&root, h, &indices, &rows, &path).unwrap();
            // A changed row, a changed sibling, a dropped or extra sibling.
            let mut bad = m[indices[0] * w..(indices[0] + 1) * w].to_vec();
            bad[0] += F::ONE;
            let mut rows2 = rows.clone();
            rows2[0] = &bad;
            assert!(verify(&root, h, &indices, &rows2, &path).is_err());
            for k in 0..path.0.len() {
                let mut p = path.clone();
                p.0[k][3] ^= 1;
                assert!(verify(&root, h, &indices, &rows, &p).is_err());
            }
            let mut p = path.clone();
            p.0.push([0; 32]);
            assert!(verify(&root, h, &indices, &rows, &p).is_err());
            if !path.0.is_empty() {
                let mut p = path.clone();
                p.0.pop();
                assert!(verify(&root, h, &indices, &rows, &p).is_err());
            }
            // Another root; an index out of range.
            assert!(verify(&Root([9; 32]), h, &indices, &rows, &path).is_err());
            assert!(verify(&root, h, &[n], &rows[..1], &path).is_err());
        }
    }

    #[test]
    fn shared_paths_are_sent_once() {
        let (h, w) = (6, 4);
        let m = matrix(h, w);
        let tree = MerkleTree::build(&Words::Owned(m), w, h);
        assert_eq!(tree.open(&[5]).unwrap().0.len(), h);
        // Siblings 4 and 5 share everything above the leaves.
        assert_eq!(tree.open(&[4, 5, 5]).unwrap().0.len(), h - 1);
    }

    #[test]
    fn stored_tree_reads_back() {
        let (h, w) = (5, 3);
        let tree = MerkleTree::build(&Words::Owned(matrix(h, w)), w, h);
        let mut bytes = vec![];
        tree.nodes().write(&mut bytes);
        let shared: crate::store::Shared = std::sync::Arc::new(bytes.clone());
        let mapped = crate::store::Mapped::new(crate::store::Source::Memory(shared), 0, bytes.len()).unwrap();
        let back = MerkleTree::from_stored(h, Digests::Mapped(mapped)).unwrap();
        assert_eq!(back.root(), tree.root());
        assert_eq!(back.open(&[3, 17]).unwrap(), tree.open(&[3, 17]).unwrap());
        assert!(MerkleTree::from_stored(h + 1, Digests::Owned(vec![[0; 32]; 3])).is_err());
    }
}
