//! The nearest locality to a point, over the table's one-degree grid: latitude bands in
//! order of their distance from the point, and in each band the columns in order of their
//! distance in longitude, each skipped as soon as no point in it can beat the best so far.
//!
//! Both bounds are exact spherical minima, so the answer is the true nearest: a band is at
//! least its latitude gap away (along the meridian), and a point whose longitude differs by
//! at least δ is at least `asin(cos φ · sin δ)` of arc away (φ the point's latitude; the
//! distance to that meridian's great circle), which also covers the poles.

use super::table::{self, BANDS, COLUMNS};
use crate::geo::{Coordinates, EARTH_RADIUS_M};

/// The best candidate so far: its distance in metres and its row.
struct Best {
    distance_m: f64,
    row: Option<usize>,
}

/// The row of the locality nearest to `point` and its distance, if one is within `within_m`.
pub(super) fn nearest(point: Coordinates, within_m: f64) -> Option<(usize, f64)> {
    let (home_band, home_column) = table::cell_of(point.lat, point.lon);
    let mut best = Best {
        distance_m: within_m,
        row: None,
    };
    for offset in 0..BANDS {
        let mut scanned = false;
        let north = home_band + offset;
        let south = home_band.checked_sub(offset).filter(|_| offset > 0);
        for band in [Some(north).filter(|b| *b < BANDS), south]
            .into_iter()
            .flatten()
        {
            if band_gap_m(point.lat, band) < best.distance_m {
                scan_band(point, band, home_column, &mut best);
                scanned = true;
            }
        }
        if !scanned {
            break;
        }
    }
    Some((best.row?, best.distance_m))
}

/// Looks through `band`'s columns outwards from `home_column` while they can hold a better one.
fn scan_band(point: Coordinates, band: usize, home_column: usize, best: &mut Best) {
    for offset in 0..=COLUMNS / 2 {
        if column_gap_m(point.lat, offset) >= best.distance_m {
            return;
        }
        let east = (home_column + offset) % COLUMNS;
        let west = (home_column + COLUMNS - offset) % COLUMNS;
        let columns = if east == west {
            [Some(east), None]
        } else {
            [Some(east), Some(west)]
        };
        for column in columns.into_iter().flatten() {
            for row in table::rows_in(band, column) {
                consider(point, row, best);
            }
        }
    }
}

fn consider(point: Coordinates, row: usize, best: &mut Best) {
    let Some((lat, lon)) = table::point(row) else {
        return;
    };
    let Some(there) = Coordinates::new(lat.into(), lon.into()) else {
        return;
    };
    let distance_m = point.distance_m(&there);
    if distance_m < best.distance_m || (best.row.is_none() && distance_m <= best.distance_m) {
        *best = Best {
            distance_m,
            row: Some(row),
        };
    }
}

/// Least distance from latitude `lat` to any point of `band`.
fn band_gap_m(lat: f64, band: usize) -> f64 {
    let south = band as f64 - 90.0;
    let gap_deg = (south - lat).max(lat - (south + 1.0)).max(0.0);
    gap_deg.to_radians() * EARTH_RADIUS_M
}

/// Least distance from a point at latitude `lat` to any point in a column `offset` columns
/// away in longitude (at least `offset - 1` degrees, the point being anywhere in its own).
fn column_gap_m(lat: f64, offset: usize) -> f64 {
    let delta_deg = (offset.saturating_sub(1) as f64).min(90.0);
    let sine = lat.to_radians().cos() * delta_deg.to_radians().sin();
    sine.clamp(0.0, 1.0).asin() * EARTH_RADIUS_M
}
