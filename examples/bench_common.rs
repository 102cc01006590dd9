//! Timing helpers shared by the benchmark examples, and their allocator.

/// The allocator `zkrt` uses, so the benchmarks measure what the tool
/// does; each benchmark's `main` calls
/// [`zkml_runtime::alloc::configure`] as `zkrt` does.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The median of `v` (upper median for an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Runs `f` once to warm up, then `reps` times; returns the median in
/// milliseconds and the last result.
pub fn time<T>(reps: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut out = f();
    let mut ts = vec![];
    for _ in 0..reps.max(1) {
        let t = std::time::Instant::now();
        out = f();
        ts.push(t.elapsed().as_secs_f64() * 1e3);
    }
    (median(ts), out)
}
