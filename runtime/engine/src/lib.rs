//! The proving engine: a partitioned plan's proof computed on **timely
//! dataflow**, one or more workers per process, one or more processes.
//!
//! A color (partition) is routed to worker `color mod W` (`W` workers in
//! all) by timely's exchange: the same code runs as threads of one process
//! (`zkrt run --workers N`) and as processes on several hosts (timely's
//! cluster mode: `--hostfile`, `--process`). The protocol's two prover
//! phases ([`zkml_protocol::commit_part`], [`zkml_protocol::prove_part`])
//! are separated by one all-to-all exchange of commitments:
//!
//! ```text
//! worker 0 (coordinator)      every worker (for the colors it owns)
//! inference (already done)
//! witness slice per color ──exchange(color)──> commit its partitions' columns
//!                             commitments ──broadcast──> all workers
//!                             seed from statement + every commitment
//!                             prove its partitions on forked transcripts
//! assemble the proof <──exchange(0)── partition proofs
//! ```
//!
//! Each message is `(color, bytes)`; a slice carries the values the
//! partition reads (its nodes' outputs and its inputs' producers), the
//! public inputs and outputs and the saturating lookups; weights are not
//! sent (every process maps the plan). Proving is deterministic, so the
//! proof does not depend on how colors are spread over workers.
//!
//! Each worker proves inside its own rayon pool of `threads_per_worker`
//! threads, so `W × threads` is the number of cores used.
//!
//! **Faults.** timely's membership is fixed at start: every process must
//! join before any work runs, and a process that dies cannot be replaced
//! (its colors have no other owner). The engine bounds the whole run by
//! [`EngineConfig::timeout`]: a process that never connects, or a worker
//! that dies or hangs, ends the run with [`EngineError::Timeout`] or
//! [`EngineError::Worker`] instead of a hang. Restart every process to
//! retry.

use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::InputHandle;
use timely::dataflow::operators::vec::Broadcast;
use timely::dataflow::operators::{Exchange, Input, Inspect, Probe};
use zkml_ir::{Graph, Op, Tensor};
use zkml_protocol::{PartProof, PartWitness, Proof, ProvingKey, Seed};

/// How the run is spread.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Worker threads in this process (the same in every process).
    pub workers: usize,
    /// Rayon threads each worker proves with.
    pub threads_per_worker: usize,
    /// This process's index in `hosts`.
    pub process: usize,
    /// Every process's `host:port` (timely's hostfile); empty or one entry:
    /// a single process, no networking.
    pub hosts: Vec<String>,
    /// Bound on the whole run, connecting included.
    pub timeout: Duration,
}

impl EngineConfig {
    /// `workers` threads in one process, cores shared evenly among them.
    pub fn local(workers: usize) -> EngineConfig {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let workers = workers.max(1);
        EngineConfig {
            workers,
            threads_per_worker: (cores / workers).max(1),
            process: 0,
            hosts: vec![],
            timeout: Duration::from_secs(24 * 3600),
        }
    }
    fn processes(&self) -> usize {
        self.hosts.len().max(1)
    }
}

/// Errors of a distributed run.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("timely dataflow: {0}")]
    Timely(String),
    #[error(
        "no result within {0:?}: a process did not connect, or a worker died or stopped responding \
         (timely's membership is fixed: restart every process to retry)"
    )]
    Timeout(Duration),
    #[error("worker {worker}: {message}")]
    Worker { worker: usize, message: String },
    #[error("configuration: {0}")]
    Config(String),
}

/// Where the coordinator's time went (wall clock, as seen by worker 0).
#[derive(Debug, Clone, Default)]
pub struct EngineStats {
    /// Slicing the witness and routing the slices.
    pub route: Duration,
    /// Until every partition's commitments were known.
    pub commit: Duration,
    /// Until every partition's proof arrived.
    pub prove: Duration,
    pub workers: usize,
}

/// What a partition needs of the witness.
#[derive(Debug, Serialize, Deserialize)]
struct Slice {
    saturating: Vec<usize>,
    public: (Vec<Vec<i64>>, Vec<Vec<i64>>),
    /// `(node, every output)`.
    values: Vec<(usize, Vec<IntTensor>)>,
}

/// A tensor's shape and integers.
type IntTensor = (Vec<usize>, Vec<i64>);

type Msg = (u32, Vec<u8>);

fn encode<T: Serialize>(x: &T) -> Result<Vec<u8>, String> {
    zkml_ir::codec::encode(x).map_err(|e| e.to_string())
}

fn decode<T: serde::de::DeserializeOwned>(b: &[u8]) -> Result<T, String> {
    zkml_ir::codec::decode(b).map_err(|e| e.to_string())
}

/// The nodes whose values partition `color` reads: its own nodes and the
/// (non-constant) producers of their inputs.
fn needed_nodes(pk: &ProvingKey, color: usize) -> Vec<usize> {
    let vk = &pk.vk;
    let mut ids = std::collections::BTreeSet::new();
    for &n in &vk.partitions.parts[color].nodes {
        ids.insert(n);
        for v in &vk.nodes[n].inputs {
            if !matches!(vk.nodes[v.node].op, Op::Const(_)) {
                ids.insert(v.node);
            }
        }
    }
    ids.into_iter().collect()
}

fn make_slice(
    pk: &ProvingKey,
    color: usize,
    values: &[Vec<Tensor>],
    saturating: &[usize],
) -> Result<Slice, String> {
    let public = zkml_protocol::public_values(&pk.vk, values).map_err(|e| e.to_string())?;
    let mut out = vec![];
    for id in needed_nodes(pk, color) {
        let ts = values.get(id).ok_or_else(|| format!("witness lacks node {id}"))?;
        let outs = ts
            .iter()
            .map(|t| Ok((t.shape().to_vec(), t.as_i64().map_err(|e| e.to_string())?.to_vec())))
            .collect::<Result<Vec<_>, String>>()?;
        out.push((id, outs));
    }
    Ok(Slice { saturating: saturating.to_vec(), public, values: out })
}

/// The witness a worker proves from: the slice's values, constants from
/// its own copy of the plan, nothing else.
fn witness_of(graph: &Graph, slice: &Slice) -> Result<Vec<Vec<Tensor>>, String> {
    let mut values: Vec<Vec<Tensor>> = graph
        .nodes()
        .map(|(_, n)| match &n.op {
            Op::Const(c) => vec![(*c.value).clone()],
            _ => vec![],
        })
        .collect();
    for (id, outs) in &slice.values {
        let slot = values.get_mut(*id).ok_or_else(|| format!("slice names missing node {id}"))?;
        *slot = outs
            .iter()
            .map(|(shape, data)| Tensor::from_i64(shape.clone(), data.clone()).map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?;
    }
    Ok(values)
}

/// Proves a partitioned plan. Call it on every process with the same plan
/// (`graph`, `pk`) and configuration; `witness` (every node's values) only
/// on process 0, which returns the assembled proof; other processes return
/// `None` once their partitions are proven.
pub fn prove(
    graph: Arc<Graph>,
    pk: Arc<ProvingKey>,
    witness: Option<Arc<Vec<Vec<Tensor>>>>,
    cfg: &EngineConfig,
) -> Result<Option<(Proof, EngineStats)>, EngineError> {
    if cfg.workers == 0 || cfg.threads_per_worker == 0 {
        return Err(EngineError::Config("workers and threads per worker must be at least 1".into()));
    }
    if cfg.processes() > 1 && cfg.process >= cfg.hosts.len() {
        return Err(EngineError::Config(format!(
            "process {} is not in the host list ({} hosts)",
            cfg.process,
            cfg.hosts.len()
        )));
    }
    if (cfg.process == 0) != witness.is_some() {
        return Err(EngineError::Config(
            "the witness belongs to process 0 (the coordinator), and only there".into(),
        ));
    }
    let communication = if cfg.processes() > 1 {
        timely::CommunicationConfig::Cluster {
            threads: cfg.workers,
            process: cfg.process,
            addresses: cfg.hosts.clone(),
            report: false,
            zerocopy: false,
        }
    } else if cfg.workers == 1 {
        timely::CommunicationConfig::Thread
    } else {
        timely::CommunicationConfig::Process(cfg.workers)
    };
    let config = timely::Config { communication, worker: timely::WorkerConfig::default() };
    let threads = cfg.threads_per_worker;
    let (tx, rx) = std::sync::mpsc::channel();
    // timely blocks while processes connect (retrying forever) and while
    // workers run; the run happens on its own thread so that this one can
    // give up after the timeout.
    std::thread::spawn(move || {
        let result =
            timely::execute(config, move |worker| run_worker(worker, &graph, &pk, witness.clone(), threads))
                .map_err(EngineError::Timely)
                .and_then(|guards| {
                    let mut proof = None;
                    for (i, r) in guards.join().into_iter().enumerate() {
                        match r {
                            Ok(Ok(Some(p))) => proof = Some(p),
                            Ok(Ok(None)) => {}
                            Ok(Err(message)) | Err(message) => {
                                return Err(EngineError::Worker { worker: i, message });
                            }
                        }
                    }
                    Ok(proof)
                });
        let _ = tx.send(result);
    });
    match rx.recv_timeout(cfg.timeout) {
        Ok(r) => r,
        Err(_) => Err(EngineError::Timeout(cfg.timeout)),
    }
}

type WorkerResult = Result<Option<(Proof, EngineStats)>, String>;

fn run_worker(
    worker: &mut timely::worker::Worker,
    graph: &Graph,
    pk: &ProvingKey,
    witness: Option<Arc<Vec<Vec<Tensor>>>>,
    threads: usize,
) -> WorkerResult {
    let t0 = Instant::now();
    let (index, peers) = (worker.index(), worker.peers());
    let k = pk.vk.partitions.len();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().map_err(|e| e.to_string())?;
    let mut slices_in: InputHandle<u64, CapacityContainerBuilder<Vec<Msg>>> = InputHandle::new();
    let mut comms_in: InputHandle<u64, CapacityContainerBuilder<Vec<Msg>>> = InputHandle::new();
    let mut proofs_in: InputHandle<u64, CapacityContainerBuilder<Vec<Msg>>> = InputHandle::new();
    let got_slices: Rc<RefCell<Vec<Msg>>> = Rc::default();
    let got_comms: Rc<RefCell<Vec<Msg>>> = Rc::default();
    let got_proofs: Rc<RefCell<Vec<Msg>>> = Rc::default();
    let (s, c, p) = (got_slices.clone(), got_comms.clone(), got_proofs.clone());
    let (probe_slices, probe_comms, probe_proofs) = worker.dataflow::<u64, _, _>(|scope| {
        let a = scope
            .input_from(&mut slices_in)
            .container::<Vec<Msg>>()
            .exchange(|m: &Msg| u64::from(m.0))
            .inspect(move |m| s.borrow_mut().push(m.clone()))
            .probe()
            .0;
        let b = scope
            .input_from(&mut comms_in)
            .container::<Vec<Msg>>()
            .broadcast()
            .inspect(move |m| c.borrow_mut().push(m.clone()))
            .probe()
            .0;
        let d = scope
            .input_from(&mut proofs_in)
            .container::<Vec<Msg>>()
            .exchange(|_: &Msg| 0)
            .inspect(move |m| p.borrow_mut().push(m.clone()))
            .probe()
            .0;
        (a, b, d)
    });

    // 1. The coordinator routes each color's witness slice to its owner.
    let mut stats = EngineStats { workers: peers, ..EngineStats::default() };
    // The coordinator's list of saturating lookups, kept for the assembled proof.
    let mut saturating = vec![];
    if let Some(values) = witness.as_ref().filter(|_| index == 0) {
        let sat = zkml_protocol::columns::saturating_nodes(&pk.vk, values).map_err(|e| e.to_string())?;
        saturating.clone_from(&sat);
        for color in 0..k {
            let slice = make_slice(pk, color, values, &sat)?;
            slices_in.send((color as u32, encode(&slice)?));
        }
    }
    slices_in.close();
    while !probe_slices.done() {
        worker.step();
    }
    stats.route = t0.elapsed();

    // 2. Commit the witness of every color this worker owns.
    let mine: Vec<Msg> = std::mem::take(&mut *got_slices.borrow_mut());
    let mut owned: Vec<(usize, Slice, Vec<Vec<Tensor>>, PartWitness)> = vec![];
    for (color, bytes) in mine {
        let slice: Slice = decode(&bytes)?;
        let values = witness_of(graph, &slice)?;
        let w = pool
            .install(|| zkml_protocol::commit_part(pk, color as usize, &slice.saturating, &values))
            .map_err(|e| format!("color {color}: {e}"))?;
        comms_in.send((color, encode(&w.commitments())?));
        owned.push((color as usize, slice, values, w));
    }
    comms_in.close();
    while !probe_comms.done() {
        worker.step();
    }
    stats.commit = t0.elapsed();
    tracing::debug!(worker = index, colors = owned.len(), "committed");

    // 3. Every commitment is known: derive the seed, prove owned colors.
    if let Some((_, slice, _, _)) = owned.first() {
        let mut comms: Vec<Msg> = std::mem::take(&mut *got_comms.borrow_mut());
        comms.sort_by_key(|m| m.0);
        if comms.len() != k || comms.iter().enumerate().any(|(i, m)| m.0 as usize != i) {
            return Err(format!("expected commitments of {k} partitions, got {}", comms.len()));
        }
        let commitments: Vec<Vec<zkml_proof::pcs::Commitment>> =
            comms.iter().map(|(_, b)| decode(b)).collect::<Result<_, _>>()?;
        let seed =
            Seed::derive(pk, &slice.public, &slice.saturating, &commitments).map_err(|e| e.to_string())?;
        for (color, _, values, w) in &owned {
            let (part, _) = pool
                .install(|| zkml_protocol::prove_part(pk, &seed, w, values))
                .map_err(|e| format!("color {color}: {e}"))?;
            proofs_in.send((*color as u32, part.to_bytes().map_err(|e| e.to_string())?));
        }
    }
    drop(owned);
    proofs_in.close();
    while !probe_proofs.done() {
        worker.step();
    }
    stats.prove = t0.elapsed();

    // 4. The coordinator assembles the proof.
    if index != 0 {
        return Ok(None);
    }
    if witness.is_none() {
        return Ok(None);
    }
    let mut parts: Vec<Msg> = std::mem::take(&mut *got_proofs.borrow_mut());
    parts.sort_by_key(|m| m.0);
    if parts.len() != k || parts.iter().enumerate().any(|(i, m)| m.0 as usize != i) {
        return Err(format!("expected proofs of {k} partitions, got {}", parts.len()));
    }
    let parts: Vec<PartProof> = parts
        .iter()
        .map(|(_, b)| PartProof::from_bytes(b).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    Ok(Some((Proof { saturating, parts }, stats)))
}
