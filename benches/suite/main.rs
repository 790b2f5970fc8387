//! memo's benchmark suite: hits, misses, two threads, hit ratios, memory, invalidation and async
//! (W1-W7 of issue 4), every candidate measured interleaved in the same run, with ratios to a
//! baseline of the same run and the targets marked.
//!
//! `cargo bench -p memo-bench` runs it all and prints one Markdown report;
//! `cargo bench -p memo-bench -- --test` runs every benchmark once on small inputs (CI);
//! extra arguments select workloads by name (`cargo bench -p memo-bench -- w1 w4`).

// Bench code: setup functions list their candidates side by side (long, but read as a table),
// and the measurement arithmetic converts small non-negative figures between integers and
// floats.
#![allow(
    clippy::too_many_lines,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod harness;
mod report;
mod trace;
mod w1_hit;
mod w2_miss;
mod w3_threads;
mod w4_ratio;
mod w5_memory;
mod w6_invalidate;
mod w7_async;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use harness::Mode;
use report::Report;

#[global_allocator]
static ALLOC: harness::alloc::Counting = harness::alloc::Counting;

type Workload = (&'static str, fn(Mode, &mut Report));

/// The workloads, timed ones first: W4 (hit ratios, about half the run) does not depend on
/// timing, so a quiet machine matters least while it runs. The report is sorted by workload.
const WORKLOADS: &[Workload] = &[
    ("w1", w1_hit::run),
    ("w2", w2_miss::run),
    ("w3", w3_threads::run),
    ("w5", w5_memory::run),
    ("w6", w6_invalidate::run),
    ("w7", w7_async::run),
    ("w4", w4_ratio::run),
];

/// The longest a workload may run before the suite gives up (the full run's longest, W4, takes
/// about 30 s on a 2-core machine): a pathological engine change fails the run instead of
/// hanging it.
fn time_limit(mode: Mode) -> Duration {
    Duration::from_secs(if mode.quick { 120 } else { 600 })
}

/// Exits the process if the current workload runs past its time limit.
fn start_watchdog(limit: Duration) -> &'static Mutex<Option<(&'static str, Instant)>> {
    static CURRENT: Mutex<Option<(&'static str, Instant)>> = Mutex::new(None);
    std::thread::Builder::new()
        .name("memo-bench-watchdog".to_owned())
        .spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(1));
                let current = *CURRENT
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if let Some((name, started)) = current {
                    if started.elapsed() > limit {
                        eprintln!(
                            "memo-bench: {name} ran for more than {} s; giving up (a regression?)",
                            limit.as_secs()
                        );
                        std::process::exit(2);
                    }
                }
            }
        })
        .expect("the watchdog thread starts");
    &CURRENT
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = Mode {
        quick: args.iter().any(|a| a == "--test"),
    };
    let wanted: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with('-'))
        .map(String::as_str)
        .collect();
    let mut report = Report::default();
    let start = Instant::now();
    let load_start = harness::Load::now();
    let mut busy = Vec::new();
    let current = start_watchdog(time_limit(mode));
    for (name, run) in WORKLOADS {
        if !wanted.is_empty() && !wanted.contains(name) {
            continue;
        }
        let t = Instant::now();
        *current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((name, t));
        let before = harness::Load::now();
        eprintln!("memo-bench: {name}...");
        run(mode, &mut report);
        let others = before
            .zip(harness::Load::now())
            .map(|(a, b)| a.others_since(b));
        if let Some(o) = others {
            busy.push(format!("{name} {o:.2}"));
        }
        eprintln!(
            "memo-bench: {name} done in {:.1} s{}",
            t.elapsed().as_secs_f64(),
            others.map_or(String::new(), |o| format!(
                " (other processes used {o:.2} cores meanwhile)"
            ))
        );
    }
    println!("{}", report.markdown());
    let load = load_start
        .zip(harness::Load::now())
        .map_or(String::new(), |(a, b)| {
            format!(
                "; other processes used {:.2} cores on average: {}",
                a.others_since(b),
                busy.join(", ")
            )
        });
    println!(
        "({} mode, {:.0} s on {} cores{load})",
        if mode.quick { "--test" } else { "full" },
        start.elapsed().as_secs_f64(),
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
    );
}
