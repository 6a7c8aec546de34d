//! Limits checked before any work starts: a request whose memory would pass
//! the budget, or whose output cannot be written, is refused in one line
//! naming the flag, the estimate and the limit, before a model loads or a
//! step runs (so no work is lost to a late failure).

use std::path::Path;

use anyhow::{Result, bail};

/// The memory a command may plan to use: a third of this machine kind's 24 GiB,
/// so that the window and the system keep room beside it.
pub const MEMORY_BUDGET_BYTES: u64 = 8 << 30;

/// Bytes one sample holds while a sampler runs: the batch, the noise, the
/// prediction and the sampler's state are about 16 copies of the sample; a
/// U-Net's activations about 64 channels of it in 20 live tensors.
#[must_use]
pub fn bytes_per_sample(dims: usize, network: bool) -> u64 {
    let copies: u64 = if network { 64 * 20 } else { 16 };
    dims as u64 * 4 * copies
}

/// Refuses `count` items of `bytes_each` over the budget.
///
/// # Errors
/// "FLAG: COUNT … need about X GiB, over the Y GiB budget".
pub fn check_memory(flag: &str, count: usize, bytes_each: u64) -> Result<()> {
    let estimate = (count as u64).saturating_mul(bytes_each);
    if estimate > MEMORY_BUDGET_BYTES {
        let gib = |b: u64| b as f64 / f64::from(1_u32 << 30);
        bail!(
            "{flag} {count}: needs about {:.1} GiB, over the {:.0} GiB budget",
            gib(estimate),
            gib(MEMORY_BUDGET_BYTES)
        );
    }
    Ok(())
}

/// Refuses an output path whose folder does not exist or cannot be written
/// ([`crate::export::check_writable`]).
///
/// # Errors
/// "FLAG PATH: cannot write FOLDER: …".
pub fn check_writable(flag: &str, path: &Path) -> Result<()> {
    crate::export::check_writable(path).map_err(|e| anyhow::anyhow!("{flag} {}: {e}", path.display()))
}
