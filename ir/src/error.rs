//! Typed errors of the IR crate.

use crate::ValueId;

/// An op refused its inputs (shape/type inference) or failed to evaluate.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct OpError(pub String);

impl OpError {
    pub fn new(msg: impl Into<String>) -> Self {
        OpError(msg.into())
    }
}

/// Shorthand for returning an [`OpError`] built with `format!`.
#[macro_export]
macro_rules! bail_op {
    ($($arg:tt)*) => { return Err($crate::OpError::new(format!($($arg)*))) };
}

/// Errors about a graph as a whole.
#[derive(Debug, thiserror::Error)]
pub enum IrError {
    #[error("node {id} '{name}' ({op}): {error}")]
    Node { id: usize, name: String, op: String, error: OpError },
    #[error("node '{name}' refers to value {value} which does not exist (yet)")]
    DanglingInput { name: String, value: ValueId },
    #[error("graph has {expected} inputs, {got} tensors were given")]
    InputCount { expected: usize, got: usize },
    #[error("input {index} ('{name}') expects {expected}, got {got}")]
    InputFact { index: usize, name: String, expected: String, got: String },
    #[error("partitioning: {0}")]
    Partition(String),
    #[error("decoder: {0}")]
    Decoder(String),
}

/// Errors reading or writing a plan file.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("not a zkml plan (bad magic bytes); was this file written by `zkc compile`?")]
    BadMagic,
    #[error(
        "plan format version {found} is not supported by this build (reads version {supported}); recompile the model with this `zkc`"
    )]
    Version { found: u32, supported: u32 },
    #[error("plan is truncated: {0}")]
    Truncated(String),
    #[error("plan is corrupted: content hash mismatch (expected {expected}, computed {computed})")]
    HashMismatch { expected: String, computed: String },
    #[error("plan is corrupted: {0}")]
    Corrupt(String),
    #[error("plan I/O: {0}")]
    Io(std::io::Error),
    #[error("plan graph is invalid: {0}")]
    Graph(IrError),
}

// Written by hand rather than with `#[from]`: that would also mark the inner
// error as the `source`, and chain printers (`{:#}`) would show it twice.
impl From<std::io::Error> for PlanError {
    fn from(e: std::io::Error) -> Self {
        PlanError::Io(e)
    }
}

impl From<IrError> for PlanError {
    fn from(e: IrError) -> Self {
        PlanError::Graph(e)
    }
}

/// An error and its sources as one line, `outer: inner: …`, leaving out a
/// source whose message the previous one already ends with (a typed error
/// that wraps another usually prints it too: `partitioning: {0}`).
pub fn chain_message(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut last = out.clone();
    let mut source = e.source();
    while let Some(s) = source {
        let msg = s.to_string();
        if !last.ends_with(&msg) {
            out.push_str(": ");
            out.push_str(&msg);
        }
        last = msg;
        source = s.source();
    }
    out
}

/// The last panic's message and place, kept by [`quiet_panics`].
static LAST_PANIC: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// For the binaries: a panic hook that records the panic (see
/// [`last_panic`]) instead of printing it. Libraries turn panics of the
/// code they call (tract asserts on some malformed models) into typed
/// errors with `catch_unwind`, and the binaries report an escaped panic as
/// an internal error: a user never sees a raw panic message, and one the
/// program recovered from is not printed at all.
pub fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        if let Ok(mut last) = LAST_PANIC.lock() {
            *last = Some(info.to_string());
        }
    }));
}

/// The message of the last panic recorded by [`quiet_panics`].
pub fn last_panic() -> Option<String> {
    LAST_PANIC.lock().ok().and_then(|l| l.clone())
}

/// The message a panic payload carries.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_string()))
        .unwrap_or_else(|| "no message".to_string())
}

/// The end of `zkc`'s and `zkrt`'s `main`: runs `run` with panics quiet
/// (see [`quiet_panics`]), prints an error as one context chain, and an
/// escaped panic as an internal error of `tool`, unless `explain` knows its
/// payload (a panic that carries a user-facing message).
pub fn run_main<E>(
    tool: &str,
    run: impl FnOnce() -> Result<(), E> + std::panic::UnwindSafe,
    explain: impl Fn(&(dyn std::any::Any + Send)) -> Option<String>,
) -> std::process::ExitCode
where
    E: AsRef<dyn std::error::Error + Send + Sync + 'static>,
{
    quiet_panics();
    match std::panic::catch_unwind(run) {
        Ok(Ok(())) => std::process::ExitCode::SUCCESS,
        Ok(Err(e)) => {
            let e: &(dyn std::error::Error + 'static) = e.as_ref();
            eprintln!("error: {}", chain_message(e));
            std::process::ExitCode::FAILURE
        }
        Err(p) => {
            match explain(p.as_ref()) {
                Some(message) => eprintln!("error: {message}"),
                None => {
                    let at = last_panic().unwrap_or_else(|| panic_message(p.as_ref()));
                    eprintln!("error: internal error (a bug in {tool}; please report it): {at}");
                }
            }
            std::process::ExitCode::FAILURE
        }
    }
}
