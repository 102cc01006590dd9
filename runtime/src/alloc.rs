//! Allocator settings of the proving binaries.
//!
//! `zkrt` and the benchmarks use mimalloc as their global allocator and call
//! [`configure`] first thing: [`keep_freed_memory`] and
//! [`no_transparent_huge_pages`].
//!
//! **Freed memory is kept.** A proof allocates and frees tables of
//! hundreds of MB phase after phase (fraction trees, sumcheck tables,
//! codewords). glibc unmaps every block over 32 MB on free and mimalloc
//! returns freed pages to the kernel after 1 s, so each phase faulted its
//! memory in again (zeroed by the kernel); two workers of one process did so
//! side by side, contending in the kernel. Keeping freed memory for reuse
//! costs nothing in peak memory (the pages were resident at the peak
//! anyway) and on the 2-layer SmolLM2 slice (K = 2, this 2-core machine)
//! took one worker from 18–20 s to 14 s and two workers from 11–13 s to
//! 9.1 s (`examples/bench_workers.rs`).
//!
//! **No transparent huge pages.** With the kernel's THP set to `always` (as
//! on this machine), every 2 MB-aligned region mimalloc touches becomes a
//! resident 2 MB page: a proof of the 16→32→10 MLP fixture held 10.6 MB of
//! anonymous memory instead of 2.0 MB, the 4M-parameter MLP 47–50 MB instead
//! of 38–40 MB. The tables that would gain from fewer TLB misses are
//! streamed in order (prefetch-friendly): proving the 2-layer SmolLM2 slice
//! took 5.8–7.8 s with THP and 6.6–8.1 s without, within this machine's
//! run-to-run noise.

/// mimalloc's `mi_option_purge_delay` (its v3 `mimalloc.h`): how long freed
/// memory stays mapped before it is returned (`-1`: never). Not exported by
/// `libmimalloc-sys`, hence the number.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
/// The option's default in that version (milliseconds; `src/options.c`).
const PURGE_DELAY_DEFAULT: std::ffi::c_long = 1000;

/// Tells mimalloc never to return freed memory to the kernel. Returns
/// whether the setting took: it is applied only if the option still reads
/// its default, so a renumbered option in a later mimalloc is left alone
/// rather than another option overwritten (the unit test then fails).
#[allow(unsafe_code)]
pub fn keep_freed_memory() -> bool {
    // SAFETY: mi_option_get / mi_option_set read and write one of
    // mimalloc's global option slots; any option index below
    // `_mi_option_last` is valid, and 15 is.
    unsafe {
        if libmimalloc_sys::mi_option_get(PURGE_DELAY) != PURGE_DELAY_DEFAULT {
            return false;
        }
        libmimalloc_sys::mi_option_set(PURGE_DELAY, -1);
        libmimalloc_sys::mi_option_get(PURGE_DELAY) == -1
    }
}

/// Turns transparent huge pages off for this process (future faults of
/// every mapping; `prctl(PR_SET_THP_DISABLE)`). Returns whether they are
/// off.
#[allow(unsafe_code)]
pub fn no_transparent_huge_pages() -> bool {
    // SAFETY: prctl with these options reads or sets one flag of the calling
    // process and touches no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
        libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) == 1
    }
}

/// Both settings above; returns whether both took.
pub fn configure() -> bool {
    let kept = keep_freed_memory();
    no_transparent_huge_pages() && kept
}

#[cfg(test)]
mod tests {
    /// The option number still names the purge delay in the mimalloc this
    /// workspace locks (its default reads back, then the new value does);
    /// fails loudly if an upgrade renumbers it.
    #[test]
    fn purge_delay_option_is_found_and_set() {
        assert!(super::keep_freed_memory());
    }

    #[test]
    fn huge_pages_are_turned_off() {
        assert!(super::no_transparent_huge_pages());
    }
}
