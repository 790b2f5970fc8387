//! The results table: one row per candidate and workload, and the targets of issue 4 with a
//! pass/fail mark, printed as Markdown (pasted as is into `BENCHMARKS.md`).

use std::fmt::Write as _;

use crate::harness::{Measured, Summary};

/// Whether a figure meets its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mark {
    Pass,
    Fail,
    /// No target for this row.
    Info,
    /// A target the run could not judge (the machine was not quiet enough).
    NotJudged,
}

impl Mark {
    pub(crate) fn from(ok: bool) -> Self {
        if ok { Self::Pass } else { Self::Fail }
    }

    fn text(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Fail => "**FAIL**",
            Self::Info => "",
            Self::NotJudged => "not judged",
        }
    }
}

/// One row of the results table.
#[derive(Clone, Debug, Default)]
pub(crate) struct Row {
    pub(crate) workload: String,
    pub(crate) candidate: String,
    /// The median (with its unit).
    pub(crate) value: String,
    /// Half the interquartile range over the rounds, relative to the median.
    pub(crate) spread: String,
    /// The median of the per-round ratios to the group's baseline, with its quartiles.
    pub(crate) ratio: String,
    /// Allocations per call, misses per call, or another remark.
    pub(crate) note: String,
}

/// One target of the issue.
#[derive(Clone, Debug)]
struct Check {
    figure: String,
    target: String,
    measured: String,
    mark: Mark,
}

/// Everything the suite found, in order.
#[derive(Default)]
pub(crate) struct Report {
    rows: Vec<Row>,
    checks: Vec<Check>,
    tables: Vec<(String, String)>,
}

pub(crate) fn ns(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2} ms", v / 1e6)
    } else if v >= 1e4 {
        format!("{:.1} µs", v / 1e3)
    } else if v >= 100.0 {
        format!("{v:.0} ns")
    } else {
        format!("{v:.1} ns")
    }
}

pub(crate) fn pct(v: f64) -> String {
    format!("±{:.0}%", v * 100.0)
}

pub(crate) fn ratio(s: &Summary) -> String {
    format!("{:.2}x ({:.2}–{:.2})", s.median, s.p25, s.p75)
}

impl Report {
    pub(crate) fn row(&mut self, row: Row) {
        self.rows.push(row);
    }

    /// Rows for timed candidates: median time per call, spread, ratio to `base`, and
    /// allocations and misses per call.
    pub(crate) fn timings(&mut self, workload: &str, results: &[Measured], base: usize) {
        self.timings_noted(workload, results, base, true);
    }

    /// [`timings`](Self::timings), without the allocation and miss counts when `counts` is
    /// false (they include untimed work, such as restoring what a batch removed).
    pub(crate) fn timings_noted(
        &mut self,
        workload: &str,
        results: &[Measured],
        base: usize,
        counts: bool,
    ) {
        for (i, m) in results.iter().enumerate() {
            let s = m.summary();
            let ratio = if i == base {
                "1.00x (baseline)".to_owned()
            } else {
                ratio(&m.ratio_to(&results[base]))
            };
            let mut note = String::new();
            if counts {
                let _ = write!(note, "{:.2} allocs/call", m.allocs_per_op);
            }
            if counts && m.misses_per_op > 0.0 {
                let _ = write!(note, ", {:.1}% misses", m.misses_per_op * 100.0);
            }
            self.row(Row {
                workload: workload.to_owned(),
                candidate: m.name.clone(),
                value: ns(s.median),
                spread: pct(s.spread()),
                ratio,
                note,
            });
        }
    }

    /// A table of its own (Markdown), printed after the figures.
    pub(crate) fn table(&mut self, title: &str, body: &str) {
        self.tables.push((title.to_owned(), body.to_owned()));
    }

    /// Records a target of the issue.
    pub(crate) fn check(
        &mut self,
        figure: impl Into<String>,
        target: impl Into<String>,
        measured: impl Into<String>,
        ok: bool,
    ) {
        self.checks.push(Check {
            figure: figure.into(),
            target: target.into(),
            measured: measured.into(),
            mark: Mark::from(ok),
        });
    }

    /// Records a target that may not be judgeable: `None` shows the figure as not judged.
    pub(crate) fn check_if(
        &mut self,
        figure: impl Into<String>,
        target: impl Into<String>,
        measured: impl Into<String>,
        ok: Option<bool>,
    ) {
        self.checks.push(Check {
            figure: figure.into(),
            target: target.into(),
            measured: measured.into(),
            mark: ok.map_or(Mark::NotJudged, Mark::from),
        });
    }

    /// Records a figure shown beside the targets without a mark (no target, or not measured).
    pub(crate) fn info(
        &mut self,
        figure: impl Into<String>,
        target: impl Into<String>,
        measured: impl Into<String>,
    ) {
        self.checks.push(Check {
            figure: figure.into(),
            target: target.into(),
            measured: measured.into(),
            mark: Mark::Info,
        });
    }

    /// The whole report as Markdown, in workload order (`W1` … `W7`, as their texts begin).
    pub(crate) fn markdown(&self) -> String {
        let workload = |text: &str| text.get(..2).unwrap_or_default().to_owned();
        let mut checks = self.checks.clone();
        checks.sort_by_key(|c| workload(&c.figure));
        let mut rows = self.rows.clone();
        rows.sort_by_key(|r| workload(&r.workload));
        let mut out = String::new();
        out.push_str("### Targets (issue 4)\n\n");
        out.push_str("| figure | target | measured | |\n|---|---|---|---|\n");
        for c in &checks {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                c.figure,
                c.target,
                c.measured,
                c.mark.text()
            );
        }
        let passed = checks.iter().filter(|c| c.mark == Mark::Pass).count();
        let failed = checks.iter().filter(|c| c.mark == Mark::Fail).count();
        let unjudged = checks.iter().filter(|c| c.mark == Mark::NotJudged).count();
        let _ = write!(out, "\n{passed} targets met, {failed} missed");
        if unjudged > 0 {
            let _ = write!(out, ", {unjudged} not judged (the machine was busy)");
        }
        out.push_str(".\n\n");
        out.push_str("### All figures\n\n");
        out.push_str(
            "Medians over the rounds; `±` is half the interquartile range; ratios are taken \
             within each round against the group's baseline (its first row), then their median \
             and quartiles are shown.\n\n",
        );
        out.push_str(
            "| workload | candidate | median | ± | ratio to baseline | notes |\n\
             |---|---|---|---|---|---|\n",
        );
        for r in &rows {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                r.workload, r.candidate, r.value, r.spread, r.ratio, r.note
            );
        }
        for (title, body) in &self.tables {
            let _ = write!(out, "\n### {title}\n\n{body}");
        }
        out
    }
}
