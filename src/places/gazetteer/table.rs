//! The gazetteer's table of localities, built by `build.rs` from `data/gazetteer/cities.csv`
//! (GeoNames, 144,563 rows) and embedded in the binary as read-only data (~4 MB). Nothing is
//! parsed or copied at run time: the kernel maps a page in when a lookup first reads it, and
//! a lookup reads a few grid cells, their points and one label.
//!
//! The rows are sorted by grid cell: one degree of latitude by one of longitude, numbered
//! band by band from the south (band 0 is 90°S-89°S), west to east in a band (column 0 is
//! 180°W-179°W). Layout, all little-endian, locality `i` at the same index in the next two:
//! - `CELLS`: where each cell's rows start (`u32`), one past the last cell too;
//! - `POINTS`: latitude and longitude as two `f32` (8 bytes a locality);
//! - `LABELS`: where the locality's name and its region start in `STRINGS` (two `u32`);
//! - `STRINGS`: each distinct string once, as a length byte and its bytes; a region is the
//!   ISO country code (2 bytes) followed by the first-level region's name.

static CELLS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/gazetteer_cells.bin"));
static POINTS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/gazetteer_points.bin"));
static LABELS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/gazetteer_labels.bin"));
static STRINGS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/gazetteer_strings.bin"));

/// Bytes per locality in `POINTS` and in `LABELS`.
const ROW: usize = 8;
/// Latitude bands of the grid.
pub(super) const BANDS: usize = 180;
/// Columns of a band.
pub(super) const COLUMNS: usize = 360;

/// One locality as the table holds it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Row {
    /// Latitude of its centre, degrees.
    pub lat: f32,
    /// Longitude of its centre, degrees.
    pub lon: f32,
    /// Its ASCII name.
    pub name: &'static str,
    /// ISO 3166-1 alpha-2 country code.
    pub country_code: &'static str,
    /// First-level administrative region; may be empty.
    pub admin_region: &'static str,
}

/// How many localities the table holds.
#[cfg(test)]
pub(super) fn len() -> usize {
    POINTS.len() / ROW
}

/// The band and column of the cell holding a point (degrees).
pub(super) fn cell_of(lat: f64, lon: f64) -> (usize, usize) {
    let band = ((lat + 90.0).floor().max(0.0) as usize).min(BANDS - 1);
    let column = ((lon + 180.0).floor().max(0.0) as usize).min(COLUMNS - 1);
    (band, column)
}

/// The rows of the cell at `band`, `column`.
pub(super) fn rows_in(band: usize, column: usize) -> std::ops::Range<usize> {
    let cell = band * COLUMNS + column;
    let start = |cell: usize| u32_at(CELLS, cell * 4).and_then(|at| usize::try_from(at).ok());
    match (start(cell), start(cell + 1)) {
        (Some(first), Some(end)) => first..end,
        _ => 0..0,
    }
}

/// Latitude and longitude of locality `index`.
pub(super) fn point(index: usize) -> Option<(f32, f32)> {
    let point = POINTS.get(index.checked_mul(ROW)?..)?;
    Some((f32_at(point, 0)?, f32_at(point, 4)?))
}

/// Locality `index`; `None` past the end.
pub(super) fn row(index: usize) -> Option<Row> {
    let (lat, lon) = point(index)?;
    let label = LABELS.get(index.checked_mul(ROW)?..)?;
    let region = string(u32_at(label, 4)?)?;
    Some(Row {
        lat,
        lon,
        name: string(u32_at(label, 0)?)?,
        country_code: region.get(..2)?,
        admin_region: region.get(2..)?,
    })
}

/// The string starting at `start` in `STRINGS`.
fn string(start: u32) -> Option<&'static str> {
    let start = usize::try_from(start).ok()?;
    let length = usize::from(*STRINGS.get(start)?);
    std::str::from_utf8(STRINGS.get(start + 1..start + 1 + length)?).ok()
}

fn f32_at(bytes: &[u8], offset: usize) -> Option<f32> {
    Some(f32::from_le_bytes(
        bytes.get(offset..offset + 4)?.try_into().ok()?,
    ))
}

fn u32_at(bytes: &[u8], offset: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        bytes.get(offset..offset + 4)?.try_into().ok()?,
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_row_of_the_source_sits_in_its_cell() {
        assert_eq!(len(), 144_563);
        let mut counted = 0;
        for band in 0..BANDS {
            for column in 0..COLUMNS {
                for index in rows_in(band, column) {
                    let (lat, lon) = point(index).unwrap();
                    assert_eq!(
                        cell_of(lat.into(), lon.into()),
                        (band, column),
                        "row {index}"
                    );
                    counted += 1;
                }
            }
        }
        assert_eq!(counted, len());
        assert_eq!(row(len()), None);
    }

    #[test]
    fn a_row_reads_back_as_the_source_has_it() {
        let (band, column) = cell_of(42.57952, 1.65362);
        let tarter = rows_in(band, column)
            .filter_map(row)
            .find(|row| row.name == "El Tarter")
            .unwrap();
        assert_eq!(
            (tarter.admin_region, tarter.country_code),
            ("Canillo", "AD")
        );
        assert_eq!((tarter.lat, tarter.lon), (42.57952, 1.65362));
    }
}
