# Turns target/reliability/results.txt (written by scripts/reliability.sh) into RELIABILITY.md.
# Input lines: `STEP name= rc= secs=`, `RELIABILITY family= mode= key=value ...`,
# `FAILED step= test=`, `MESSAGE step= count= text=...`, `META key=value ...`.

function parse(    i, kv, eq) {
    delete f
    for (i = 2; i <= NF; i++) {
        eq = index($i, "=")
        if (eq > 0) f[substr($i, 1, eq - 1)] = substr($i, eq + 1)
    }
}

function num(x) { return (x ~ /^[0-9.]+$/) ? x + 0 : 0 }

function group(n,    s, out) {
    s = sprintf("%.0f", n)
    out = ""
    while (length(s) > 3) {
        out = "," substr(s, length(s) - 2) out
        s = substr(s, 1, length(s) - 3)
    }
    return s out
}

$1 == "META" { parse(); for (k in f) meta[k] = f[k]; next }

$1 == "STEP" {
    parse()
    steps++
    step_name[steps] = f["name"]; step_rc[steps] = f["rc"]; step_secs[steps] = f["secs"]
    if (f["rc"] != 0) failed_steps++
    next
}

$1 == "FAILED" {
    parse()
    test = $0
    sub(/^[^=]*=[^ ]* test=/, "", test)
    nfailed++
    failed[nfailed] = f["step"] ": `" test "`"
    next
}

$1 == "MESSAGE" {
    parse()
    text = $0
    sub(/^[^=]*=[^ ]* [^=]*=[^ ]* text=/, "", text)
    if (length(text) > 300) text = substr(text, 1, 300) "…"
    nmsg++
    msg[nmsg] = f["step"] " (" f["count"] "×): " text
    c = f["count"] + 0
    if (text ~ /^hang[: ]/) {
        hangs += c
    } else {
        if (text ~ /stale|saw version|read version|fenced value|saw 1/) stale += c
        if (text ~ /another key|another run|wrong value/) wrong += c
        if (text ~ /not conserved|no longer fills|in flight at rest|in-flight state leaked|sync lookups|async lookups/) conservation += c
    }
    next
}

$1 == "RELIABILITY" {
    parse()
    fam = f["family"]
    if (fam == "single_flight") {
        n_sf++
        sf[n_sf] = "| `" f["function"] "` | " f["threads"] " | " f["tasks"] " | " group(f["keys"]) " | " group(f["calls"]) " | " group(f["runs"]) " | " group(f["calls_per_sec"]) " | " f["secs"] " |"
        wrong_n += num(f["calls"])
        load_calls += num(f["calls"])
    } else if (fam == "soak") {
        if ("ops" in f) {
            soak_line = "| " f["threads"] " | " f["tasks"] " | " f["secs"] " | " group(f["ops"]) " | " group(f["ops_per_sec"]) " |"
            for (k in f) soak[k] = f[k]
            stale_n += num(f["version_checks"])
            wrong_n += num(f["key_checks"])
            conservation_checks += num(f["conservation_checks"])
        }
    } else if (fam == "panics") {
        n_pa++
        what = (f["test"] == "leader_panic_16_waiters") \
            ? group(f["rounds"]) " keys × (1 panicking leader + 16 waiters)" \
            : f["callers"] " callers, " group(f["panics_injected"]) " panics in a row on one key"
        pa[n_pa] = "| leader panic (`" f["function"] "`) | " what " | " group(f["panics_injected"]) " |"
        panics_total += num(f["panics_injected"])
    } else if (fam == "cancel") {
        n_ca++
        what = ("cases" in f) ? group(f["cases"]) " cases × " f["await_points"] " await points" : group(f["rounds"]) " rounds"
        ca[n_ca] = "| cancellation (`" f["test"] "`) | " what " | " group(f["cancellations"]) " |"
        cancel_total += num(f["cancellations"])
    } else if (fam == "fencing") {
        n_fe++
        what = ("repetitions" in f) ? group(f["repetitions"]) " held computations" : group(f["writes"]) " writes, free-running readers"
        fe[n_fe] = "| invalidation during compute (`" f["kind"] "`) | " what " | " group(f["reads_checked"]) " reads checked |"
        stale_n += num(f["reads_checked"])
        if (f["test"] == "free_running") wrong_n += num(f["reads_checked"])
    } else if (fam == "user_panics") {
        n_up++
        up[n_up] = "| panic in user `" f["op"] "` | sweep over every call in the scenario | " group(f["panics_injected"]) " |"
        user_total += num(f["panics_injected"])
    } else if (fam == "reentrancy") {
        n_re++
        what = ("depth" in f) ? "depth " group(f["depth"]) : group(f["cases"]) " cases"
        if ("threads" in f) what = what ", " f["threads"] " threads, " group(f["evictions"]) " evictions"
        re[n_re] = "| re-entrancy (`" f["test"] "`) | " what " | 0 hangs |"
    } else if (fam == "clock") {
        n_cl++
        what = ("calls_checked" in f) ? group(f["cases"]) " random step sequences, " group(f["calls_checked"]) " calls checked" : group(f["cases"]) " boundary cases"
        cl[n_cl] = "| clock faults (`" f["test"] "`) | " what " | 0 panics |"
        if (f["test"] == "backward_steps_property") prop_cases += num(f["cases"])
    } else if (fam == "idle") {
        idle_line = "| idle garbage | " group(f["keys"]) " keys via `#[cached]` (+" group(f["manual_keys"]) " via the manual API), never read | heap " f["baseline_mib"] " MiB → " f["peak_mib"] " MiB → " f["after_mib"] " MiB after the background sweep (" f["background_sweep_secs"] " s); manual wave " f["manual_peak_mib"] " → " f["manual_after_mib"] " MiB |"
    } else if (fam == "collisions") {
        n_co++
        what = ("keys" in f) ? group(f["keys"]) " keys with one constant hash" : f["functions"] " look-alike functions + manual entries"
        co[n_co] = "| hash flood / look-alikes (`" f["test"] "`) | " what " | " group(f["checks"]) " results checked |"
        wrong_n += num(f["checks"])
    } else if (fam == "input") {
        n_in++
        in_[n_in] = "| property: `" f["test"] "` | " group(f["cases"]) " |"
        prop_cases += num(f["cases"])
    } else if (fam == "fuzz") {
        n_fz++
        fz[n_fz] = "| fuzz: `" f["target"] "` | " (f["executions"] == "not_run" ? "not run (cargo-fuzz missing)" : group(f["executions"]) " executions in " f["secs"] " s") " |"
        fuzz_total += num(f["executions"])
    } else if (fam == "model") {
        n_mo++
        mo[n_mo] = "| `" f["test"] "` | " group(f["schedules"]) " | " group(f["targeted"]) " |"
        schedules += num(f["schedules"])
    }
    next
}

END {
    print "# Reliability figures"
    print ""
    print "Generated by `scripts/reliability.sh` (issue 5) on " meta["date"] ", " meta["total_secs"] " s of machine time (" meta["cores"] " cores, " meta["toolchain"] ", " meta["profile"] " build). Do not edit by hand: run the command again."
    print ""
    print "```sh"
    print "scripts/reliability.sh    # soak tests in soak mode, model tests, property tests, fuzzers; rewrites this file"
    print "```"
    print ""
    print "Knobs: `MEMO_SOAK_SECS` (soak workload, here " meta["soak_secs"] " s), `FUZZ_SECS` (per fuzz target, here " meta["fuzz_secs"] " s), `MEMO_MODEL_ITERATIONS` (shuttle schedules per model test and strategy, here " meta["model_iterations"] "), `PROPTEST_CASES` (here " meta["proptest_cases"] "), `RELIABILITY_PROFILE` (`debug` or `release`). The fuzzers need `cargo install cargo-fuzz` and run on stable with `RUSTC_BOOTSTRAP=1`. Logs: `target/reliability/`. The short versions of every test run in `cargo test --workspace`; the model tests in CI with `RUSTFLAGS=\"--cfg memo_shuttle\"`."
    print ""
    print "## Outcome"
    print ""
    printf "**hangs: %d, stale reads after invalidation: %d of %s, wrong-key results: %d of %s, conservation violations: %d**\n", hangs, stale, group(stale_n), wrong, group(wrong_n), conservation
    print ""
    if (failed_steps == 0) {
        printf "All %d steps passed.\n", steps
    } else {
        printf "%d of %d steps failed; their figures below are missing or partial. Failing tests:\n\n", failed_steps, steps
        for (i = 1; i <= nfailed; i++) print "- " failed[i]
        print ""
        print "Messages (most frequent first, per step):"
        print ""
        for (i = 1; i <= nmsg; i++) print "- " msg[i]
    }
    print ""
    print "The N above: stale reads are the reads checked against the version published by an invalidation that had returned (held-computation and free-running fencing tests, soak); wrong-key results are the values checked to belong to the key asked for (single-flight callers, hash flood and look-alike functions, free-running fencing, soak). Conservation (`hits + misses == lookups`, `inserts == size + evictions by cause`, lookups equal to the calls made, nothing in flight at rest) was checked " group(conservation_checks) " times during the soak at rest, plus at the end of every test."
    print ""
    print "## Load held"
    print ""
    print "Single-flight on cold keys (item 1): every caller of a key arrives while its one computation is held open, so all of them wait on it."
    print ""
    print "| function | threads | tasks | keys | calls | computations | calls/s | s |"
    print "|---|---|---|---|---|---|---|---|"
    for (i = 1; i <= n_sf; i++) print sf[i]
    print ""
    print "Soak (item 12): `#[cached]` sync and async gets, `#[invalidates]` exact writes, pattern invalidations, manual-API inserts/gets/removes, a moving TTL clock, stats snapshots; 0.1% of computations panic, 1% of async callers are dropped mid-call; a watchdog fails any call slower than 5 s."
    print ""
    print "| threads | tokio tasks | s | operations | operations/s |"
    print "|---|---|---|---|---|"
    if (soak_line != "") print soak_line; else print "| (did not complete) | | | | |"
    if ("ops" in soak) {
        print ""
        printf "Of which: %s sync gets, %s async gets, %s manual-API operations, %s exact and %s pattern invalidations, %s clock steps; %s evictions for capacity, %s expirations, %s invalidations.\n", group(soak["sync_calls"]), group(soak["async_calls"]), group(soak["manual_ops"]), group(soak["exact_invalidations"]), group(soak["pattern_invalidations"]), group(soak["clock_steps"]), group(soak["evicted"]), group(soak["expired"]), group(soak["invalidated"])
    }
    print ""
    print "## Faults injected and survived"
    print ""
    print "| fault | how | injected / checked |"
    print "|---|---|---|"
    for (i = 1; i <= n_pa; i++) print pa[i]
    if ("ops" in soak) print "| panicking computations in the soak | 0.1% of computations, each seen by exactly its own caller | " group(soak["panics_injected"]) " (seen: " group(soak["panics_seen"]) ") |"
    for (i = 1; i <= n_ca; i++) print ca[i]
    if ("ops" in soak) print "| cancelled async callers in the soak | dropped after 1 to 3 polls | " group(soak["cancelled"]) " |"
    for (i = 1; i <= n_fe; i++) print fe[i]
    for (i = 1; i <= n_up; i++) print up[i]
    for (i = 1; i <= n_re; i++) print re[i]
    for (i = 1; i <= n_cl; i++) print cl[i]
    if (idle_line != "") print idle_line
    for (i = 1; i <= n_co; i++) print co[i]
    print ""
    print "## Bad inputs tried"
    print ""
    print "| input | cases / executions |"
    print "|---|---|"
    for (i = 1; i <= n_in; i++) print in_[i]
    for (i = 1; i <= n_fz; i++) print fz[i]
    print ""
    printf "Property cases in total: %s; fuzz executions in total: %s. Every accepted pattern is compared with a port of Redis's `stringmatchlen` (`fuzz/src/reference.rs`), every rejected one with the documented grammar.\n", group(prop_cases), group(fuzz_total)
    print ""
    print "## Schedules explored"
    print ""
    print "Shuttle model tests (`memo-runtime/src/model_tests.rs`), random and PCT schedulers; *targeted* counts the schedules in which the interleaving the test is about actually happened (each test requires at least one)."
    print ""
    print "| model test | schedules | targeted |"
    print "|---|---|---|"
    for (i = 1; i <= n_mo; i++) print mo[i]
    printf "| **total** | **%s** | |\n", group(schedules)
    print ""
    print "## Steps"
    print ""
    print "| step | result | s |"
    print "|---|---|---|"
    for (i = 1; i <= steps; i++) printf "| `%s` | %s | %s |\n", step_name[i], (step_rc[i] == 0 ? "passed" : "**failed**"), step_secs[i]
}
