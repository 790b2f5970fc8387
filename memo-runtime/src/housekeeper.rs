//! The background thread `memo-housekeeper`: refreshes the coarse system clock every
//! millisecond and sweeps expired entries ten times a second, so that memory returns to its
//! baseline under write-only traffic without any read. It starts with the first entry that has
//! a TTL and holds no lock longer than one shard's sweep.

use std::sync::Once;
use std::time::Duration;

static START: Once = Once::new();

/// Ticks between sweeps.
const SWEEP_EVERY: u32 = 100;

/// Starts the housekeeper if it is not running yet.
pub(crate) fn ensure_started() {
    START.call_once(|| {
        // If the thread cannot be spawned, TTLs are still honoured on every read (an insert
        // with a TTL also refreshes the clock once it lags by 2 ms); only the background sweep
        // is missing.
        let _ = std::thread::Builder::new()
            .name("memo-housekeeper".to_owned())
            .spawn(run);
    });
}

fn run() {
    let mut ticks = 0_u32;
    loop {
        std::thread::sleep(Duration::from_millis(1));
        crate::clock::tick_system();
        ticks += 1;
        if ticks == SWEEP_EVERY {
            ticks = 0;
            crate::registry::sweep_expired();
        }
    }
}
