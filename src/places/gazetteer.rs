//! [`Gazetteer`]: the offline last resort when Wikipedia fails — the nearest locality
//! (GeoNames places of 1000+ people).
//!
//! The localities are a table built into the binary at compile time ([`table`]: `f32`
//! coordinates, each name once, rows sorted into a one-degree grid) and searched in place
//! ([`search`]): nothing is loaded, parsed or copied, a lookup takes microseconds and reads a
//! few pages of the table. It knows locality *centre points* only, so present the answer as
//! "near X", not "in X".

mod search;
mod table;

use serde::{Deserialize, Serialize};

use crate::geo::Coordinates;

/// Default for [`Gazetteer::with_max_distance_m`]: farther than this, "near X" says nothing.
pub const DEFAULT_MAX_DISTANCE_M: f64 = 100_000.0;

/// The locality nearest to a point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Locality {
    /// Locality name as GeoNames spells it in ASCII (e.g. "Moscow", "Sant Julia de Loria").
    pub name: String,
    /// First-level administrative region (state, oblast); may be empty.
    pub admin_region: String,
    /// ISO 3166-1 alpha-2 country code, e.g. "RU".
    pub country_code: String,
    /// The locality's centre point.
    pub coordinates: Coordinates,
    /// Distance from the searched point to that centre, in metres.
    pub distance_m: f64,
}

/// The offline reverse geocoder over the embedded table.
#[derive(Debug, Clone)]
pub struct Gazetteer {
    /// Localities farther than this are not returned.
    max_distance_m: f64,
}

impl Default for Gazetteer {
    fn default() -> Self {
        Self::new()
    }
}

impl Gazetteer {
    /// A gazetteer answering within [`DEFAULT_MAX_DISTANCE_M`].
    pub fn new() -> Self {
        Self {
            max_distance_m: DEFAULT_MAX_DISTANCE_M,
        }
    }

    /// The same, answering `None` when the nearest locality is farther than `max_distance_m`.
    pub fn with_max_distance_m(mut self, max_distance_m: f64) -> Self {
        self.max_distance_m = max_distance_m;
        self
    }

    /// The nearest locality within the distance limit.
    pub fn nearest(&self, point: Coordinates) -> Option<Locality> {
        let (index, distance_m) = search::nearest(point, self.max_distance_m)?;
        let row = table::row(index)?;
        Some(Locality {
            name: row.name.to_owned(),
            admin_region: row.admin_region.to_owned(),
            country_code: row.country_code.to_owned(),
            coordinates: Coordinates::new(row.lat.into(), row.lon.into())?,
            distance_m,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn point(lat: f64, lon: f64) -> Coordinates {
        Coordinates::new(lat, lon).unwrap()
    }

    #[test]
    fn finds_the_city_around_a_point() {
        let red_square = Gazetteer::new().nearest(point(55.7539, 37.6208)).unwrap();
        assert_eq!(red_square.name, "Moscow");
        assert_eq!(red_square.country_code, "RU");
        assert!(red_square.distance_m < 5_000.0, "{red_square:?}");
    }

    #[test]
    fn gives_the_nearest_centre_point_not_the_containing_city() {
        let eiffel = Gazetteer::new().nearest(point(48.8584, 2.2945)).unwrap();
        assert_eq!(eiffel.country_code, "FR");
        assert!(eiffel.distance_m < 5_000.0, "{eiffel:?}");
        assert!(!eiffel.admin_region.is_empty());
    }

    /// The poles and the antimeridian, points spread over the globe, and as many just off
    /// real localities (where the nearest is a close call), from a fixed seed.
    fn probes() -> Vec<Coordinates> {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1_u64 << 53) as f64
        };
        let edges = [
            (90.0, 0.0),
            (-90.0, 0.0),
            (0.0, 180.0),
            (-16.5, -180.0),
            (-80.0, 179.9),
        ];
        let spread = (0..4_000).map(|i| {
            if i % 2 == 0 {
                return (next() * 180.0 - 90.0, next() * 360.0 - 180.0);
            }
            let row = table::row((next() * table::len() as f64) as usize).unwrap();
            let (lat, lon) = (f64::from(row.lat), f64::from(row.lon));
            (lat + next() * 0.1 - 0.05, lon + next() * 0.1 - 0.05)
        });
        edges
            .into_iter()
            .chain(spread)
            .map(|(lat, lon): (f64, f64)| point(lat.clamp(-90.0, 90.0), lon.clamp(-180.0, 180.0)))
            .collect()
    }

    #[test]
    fn answers_as_the_reverse_geocoder_crate_does() {
        let theirs = reverse_geocoder::ReverseGeocoder::new();
        let ours = Gazetteer::new().with_max_distance_m(f64::INFINITY);

        for probe in probes() {
            let our = ours.nearest(probe).unwrap();
            let their = theirs.search((probe.lat, probe.lon)).record;
            let their_distance_m = probe.distance_m(&point(their.lat, their.lon));
            let same = (
                our.name.as_str(),
                our.admin_region.as_str(),
                our.country_code.as_str(),
            ) == (
                their.name.as_str(),
                their.admin1.as_str(),
                their.cc.as_str(),
            );
            // A different answer only for a tie (two centres equally far, to a metre).
            assert!(
                same || (our.distance_m - their_distance_m).abs() < 1.0,
                "{probe:?}: {our:?} against {their:?} at {their_distance_m} m"
            );
        }
    }

    /// Set in the child process of the next test, which measures itself.
    const MEASURING_CHILD: &str = "EXCURSOBOT_TEST_GAZETTEER_MEMORY";

    /// `RssAnon` (the heap and other private memory) and `VmRSS` of this process, in KiB.
    fn resident_kib() -> (u64, u64) {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let field = |name: &str| -> u64 {
            let line = status.lines().find(|line| line.starts_with(name)).unwrap();
            line.split_whitespace().nth(1).unwrap().parse().unwrap()
        };
        (field("RssAnon:"), field("VmRSS:"))
    }

    /// Measured in a process of its own (this test binary again, running only this test),
    /// so other tests' memory does not count. File-backed pages (the table, the code) are
    /// counted in the total; the private part is what a loaded table would cost.
    #[test]
    fn the_first_lookup_adds_next_to_nothing_to_resident_memory() {
        if std::env::var_os(MEASURING_CHILD).is_some() {
            let before = resident_kib();
            let moscow = Gazetteer::new().nearest(point(55.7539, 37.6208));
            let after = resident_kib();
            let grew = (
                after.0.saturating_sub(before.0),
                after.1.saturating_sub(before.1),
            );
            println!("grew-kib={} {}", grew.0, grew.1);
            assert!(moscow.is_some());
            return;
        }
        let name =
            "places::gazetteer::tests::the_first_lookup_adds_next_to_nothing_to_resident_memory";
        let child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", name, "--nocapture", "--test-threads=1"])
            .env(MEASURING_CHILD, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&child.stdout);
        let grew: Vec<u64> = stdout
            .split("grew-kib=")
            .nth(1)
            .map(|rest| {
                rest.split_whitespace()
                    .take(2)
                    .filter_map(|kib| kib.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            child.status.success() && grew.len() == 2,
            "the child said: {stdout}"
        );
        let (private_kib, total_kib) = (grew[0], grew[1]);
        assert!(
            private_kib < 1024,
            "the first lookup took {private_kib} KiB of private memory"
        );
        assert!(
            total_kib < 8 * 1024,
            "the first lookup took {total_kib} KiB in all"
        );
    }

    #[test]
    fn open_ocean_is_too_far_from_any_locality() {
        let gazetteer = Gazetteer::new();
        assert_eq!(gazetteer.nearest(point(-48.8767, -123.3933)), None);
        let lenient = gazetteer.with_max_distance_m(f64::INFINITY);
        assert!(lenient.nearest(point(-48.8767, -123.3933)).is_some());
    }
}
