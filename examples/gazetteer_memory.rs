//! What the offline gazetteer costs in memory: this process's resident set (`VmRSS`) and its
//! high-water mark (`VmHWM`, from `/proc/self/status`) before and after the first lookup
//! (which loaded the whole table before it became a table in the binary), and its time.
//!
//! `cargo run --release --example gazetteer_memory` (figures in BENCHMARKS.md).

use std::time::Instant;

use excursobot::{geo::Coordinates, places::gazetteer::Gazetteer};

fn main() {
    let Some(red_square) = Coordinates::new(55.7539, 37.6208) else {
        return;
    };
    let gazetteer = Gazetteer::new();
    let before = memory();
    let started = Instant::now();
    let found = gazetteer.nearest(red_square);
    let elapsed = started.elapsed();
    let after = memory();
    let name = found.map_or("nothing".to_owned(), |locality| locality.name);
    println!(
        "first lookup: {name} in {:.0} ms",
        elapsed.as_secs_f64() * 1e3
    );
    println!("before: {before}");
    println!("after:  {after}");
}

/// `VmRSS` and `VmHWM` of this process, as `/proc/self/status` gives them.
fn memory() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .filter(|line| line.starts_with("VmRSS") || line.starts_with("VmHWM"))
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(", ")
}
