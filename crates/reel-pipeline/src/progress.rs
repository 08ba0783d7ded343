//! Progress reporting, kept abstract so libraries never draw on the terminal themselves.

/// Receives progress from long tasks. The binary implements it with a progress bar.
///
/// Implementations must be cheap: `advance` is called from parsing threads many times a
/// second.
pub trait Progress: Send + Sync {
    /// A new phase starts; `total` is its size in units (bytes, rows) when known.
    fn begin(&self, phase: &str, total: Option<u64>);
    /// `n` more units are done.
    fn advance(&self, n: u64);
    /// The phase is over.
    fn end(&self);
    /// A short status for the current phase (e.g. the training loss of the last epoch).
    fn message(&self, msg: &str) {
        let _ = msg;
    }
    /// Whether the work should stop (a pipeline task timed out or was cancelled). Long
    /// loops (training epochs) ask between steps; `false` by default.
    fn cancelled(&self) -> bool {
        false
    }
}

/// Reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn begin(&self, _phase: &str, _total: Option<u64>) {}
    fn advance(&self, _n: u64) {}
    fn end(&self) {}
}
