//! Builds the offline gazetteer's table from `data/gazetteer/cities.csv` into `OUT_DIR`,
//! where `src/places/gazetteer/table.rs` embeds it (that file describes the layout). Doing it
//! at build time keeps the CSV out of the binary and out of memory: the bot maps ~4 MB of
//! table instead of parsing ~8 MB of text into ~50 MB of records and a tree.

use std::{collections::HashMap, error::Error, fs, path::PathBuf};

const SOURCE: &str = "data/gazetteer/cities.csv";
/// The functions that ran in the simulator's runs, hottest first (`data/link/`).
const LINK_ORDER: &str = "data/link/order.txt";
/// Grid cells: one degree of latitude by one of longitude (as in `table.rs`).
const BANDS: usize = 180;
const COLUMNS: usize = 360;

/// Lays out the bot's code with the functions that ran in the simulator's runs first
/// ([`LINK_ORDER`]), so the code that runs together shares pages and the rest is never
/// paged in: the kernel maps a binary's code in 64 KiB runs around each page executed, so
/// with the linker's own order nearly all of the code was resident (BENCHMARKS.md, "Memory").
/// Names missing from the binary (the file is older than the code) are skipped quietly, and
/// functions the file does not name go after those it does. Only where rustc links with its
/// own LLD by default (GNU ld has no ordering file).
fn link_order() {
    println!("cargo::rerun-if-changed={LINK_ORDER}");
    let lld = std::env::var("TARGET").as_deref() == Ok("x86_64-unknown-linux-gnu");
    let Ok(root) = std::env::var("CARGO_MANIFEST_DIR") else {
        return;
    };
    let order = PathBuf::from(root).join(LINK_ORDER);
    if lld && order.exists() {
        println!(
            "cargo::rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        println!("cargo::rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo::rerun-if-changed={SOURCE}");
    link_order();
    let mut rows = Vec::new();
    for row in csv::Reader::from_path(SOURCE)?.records() {
        let row = row?;
        let field = |index: usize| row.get(index).ok_or("short row");
        // lat, lon, name, admin1, admin2, cc
        let (lat, lon): (f32, f32) = (field(0)?.parse()?, field(1)?.parse()?);
        let region = format!("{}{}", field(5)?, field(3)?);
        rows.push((cell(lat, lon), lat, lon, field(2)?.to_owned(), region));
    }
    // Stable: within a cell, the source's order.
    rows.sort_by_key(|row| row.0);
    let mut table = Table::default();
    let mut cells = vec![0_u32; BANDS * COLUMNS + 1];
    for (cell, lat, lon, name, region) in &rows {
        cells[cell + 1] += 1;
        table.push(*lat, *lon, name, region)?;
    }
    for index in 1..cells.len() {
        cells[index] += cells[index - 1];
    }
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let cells: Vec<u8> = cells.iter().flat_map(|start| start.to_le_bytes()).collect();
    fs::write(out.join("gazetteer_cells.bin"), cells)?;
    fs::write(out.join("gazetteer_points.bin"), &table.points)?;
    fs::write(out.join("gazetteer_labels.bin"), &table.labels)?;
    fs::write(out.join("gazetteer_strings.bin"), &table.strings)?;
    Ok(())
}

/// The grid cell of a point, counted from the south-west: band by band, west to east; in
/// `f64`, as `table::cell_of` computes it.
fn cell(lat: f32, lon: f32) -> usize {
    let band = ((f64::from(lat) + 90.0).floor().max(0.0) as usize).min(BANDS - 1);
    let column = ((f64::from(lon) + 180.0).floor().max(0.0) as usize).min(COLUMNS - 1);
    band * COLUMNS + column
}

/// The files being written.
#[derive(Default)]
struct Table {
    /// Per locality: latitude, longitude (f32, little-endian).
    points: Vec<u8>,
    /// Per locality: where its name and its region start in `strings` (u32, little-endian).
    labels: Vec<u8>,
    /// Each distinct string once, as one length byte and its bytes.
    strings: Vec<u8>,
    /// Where each string already written starts.
    interned: HashMap<String, u32>,
}

impl Table {
    fn push(&mut self, lat: f32, lon: f32, name: &str, region: &str) -> Result<(), Box<dyn Error>> {
        self.points.extend_from_slice(&lat.to_le_bytes());
        self.points.extend_from_slice(&lon.to_le_bytes());
        for text in [name, region] {
            let start = self.intern(text)?;
            self.labels.extend_from_slice(&start.to_le_bytes());
        }
        Ok(())
    }

    fn intern(&mut self, text: &str) -> Result<u32, Box<dyn Error>> {
        if let Some(start) = self.interned.get(text) {
            return Ok(*start);
        }
        let start = u32::try_from(self.strings.len())?;
        self.strings.push(u8::try_from(text.len())?);
        self.strings.extend_from_slice(text.as_bytes());
        self.interned.insert(text.to_owned(), start);
        Ok(start)
    }
}
