//! [`Recorder`]: the run's one clock and its operation log.

use std::sync::Mutex;
use std::time::Instant;

use oxcd_checker::Op;

/// The shared clock (nanoseconds since the run started) and the log every client appends to.
#[derive(Debug)]
pub struct Recorder {
    start: Instant,
    ops: Mutex<Vec<Op>>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            start: Instant::now(),
            ops: Mutex::new(Vec::new()),
        }
    }
}

impl Recorder {
    /// Nanoseconds since the run started, on the clock every op and watch response uses.
    pub fn now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    /// Appends a finished (or abandoned) operation.
    pub fn push(&self, op: Op) {
        self.ops.lock().unwrap_or_else(|e| e.into_inner()).push(op);
    }

    /// Every operation recorded so far, ordered by invoke time.
    pub fn take(&self) -> Vec<Op> {
        let mut ops = std::mem::take(&mut *self.ops.lock().unwrap_or_else(|e| e.into_inner()));
        ops.sort_by_key(|o| o.invoke);
        ops
    }
}
