//! Points on the Earth: validated coordinates, great-circle distance, initial bearing,
//! an eight-point compass and a cache key that groups nearby points (~110 m cells).

use serde::{Deserialize, Serialize};

/// Mean Earth radius (IUGG) in metres, used by the haversine formula.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// A WGS84 point in decimal degrees; build it with [`Coordinates::new`] to get checked ranges.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Coordinates {
    /// Latitude in degrees, -90 (south pole) ..= 90 (north pole).
    pub lat: f64,
    /// Longitude in degrees, -180 ..= 180 (east is positive).
    pub lon: f64,
}

/// The eight compass directions, each covering 45 degrees around its centre.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Compass {
    /// North (337.5..22.5 degrees).
    N,
    /// North-east.
    NE,
    /// East.
    E,
    /// South-east.
    SE,
    /// South.
    S,
    /// South-west.
    SW,
    /// West.
    W,
    /// North-west.
    NW,
}

impl Coordinates {
    /// Returns the point if both values are finite and in range, `None` otherwise.
    pub fn new(lat: f64, lon: f64) -> Option<Self> {
        let lat_ok = lat.is_finite() && (-90.0..=90.0).contains(&lat);
        let lon_ok = lon.is_finite() && (-180.0..=180.0).contains(&lon);
        (lat_ok && lon_ok).then_some(Self { lat, lon })
    }

    /// Great-circle distance to `other` in metres (haversine formula).
    pub fn distance_m(&self, other: &Coordinates) -> f64 {
        let (lat1, lat2) = (self.lat.to_radians(), other.lat.to_radians());
        let dlat = lat2 - lat1;
        let dlon = (other.lon - self.lon).to_radians();
        let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
        // `min` guards asin against rounding just above 1 for antipodal points.
        2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
    }

    /// Initial bearing from `self` towards `other`, in degrees clockwise from north, 0..360.
    pub fn bearing_deg(&self, other: &Coordinates) -> f64 {
        let (lat1, lat2) = (self.lat.to_radians(), other.lat.to_radians());
        let dlon = (other.lon - self.lon).to_radians();
        let y = dlon.sin() * lat2.cos();
        let x = lat1.cos() * lat2.sin() - lat1.sin() * lat2.cos() * dlon.cos();
        let deg = y.atan2(x).to_degrees().rem_euclid(360.0);
        // rem_euclid can round up to exactly 360.0 for tiny negative angles.
        if deg >= 360.0 { 0.0 } else { deg }
    }

    /// The point `distance_m` metres from `self` along `bearing_deg` (clockwise from north),
    /// on the great circle; the longitude wraps, the latitude stays in range.
    pub fn moved(&self, bearing_deg: f64, distance_m: f64) -> Coordinates {
        let (lat1, lon1) = (self.lat.to_radians(), self.lon.to_radians());
        let (angle, bearing) = (distance_m / EARTH_RADIUS_M, bearing_deg.to_radians());
        let lat2 = (lat1.sin() * angle.cos() + lat1.cos() * angle.sin() * bearing.cos()).asin();
        let y = bearing.sin() * angle.sin() * lat1.cos();
        let x = angle.cos() - lat1.sin() * lat2.sin();
        let lon2 = (lon1 + y.atan2(x)).to_degrees();
        Coordinates {
            lat: lat2.to_degrees().clamp(-90.0, 90.0),
            lon: (lon2 + 540.0).rem_euclid(360.0) - 180.0,
        }
    }

    /// Key of the ~110 m cell the point lies in: both values rounded to 3 decimals,
    /// e.g. `"55.752,37.617"`; `-0.000` is written as `0.000` so one cell has one key.
    pub fn rounded_key(&self) -> String {
        format!("{},{}", round3(self.lat), round3(self.lon))
    }
}

/// Formats a value with 3 decimals, turning a negative zero into a positive one.
fn round3(value: f64) -> String {
    let rounded = (value * 1000.0).round() / 1000.0;
    // Adding 0.0 turns -0.0 into +0.0 (IEEE 754), so "-0.000" never appears.
    format!("{:.3}", rounded + 0.0)
}

impl Compass {
    /// Position in N, NE, E, SE, S, SW, W, NW order (for per-language phrase tables).
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The compass direction a bearing (degrees, any value; wrapped into 0..360) points to.
pub fn compass_direction(bearing_deg: f64) -> Compass {
    const SECTORS: [Compass; 8] = [
        Compass::N,
        Compass::NE,
        Compass::E,
        Compass::SE,
        Compass::S,
        Compass::SW,
        Compass::W,
        Compass::NW,
    ];
    let wrapped = bearing_deg.rem_euclid(360.0);
    // Each sector is 45 degrees wide and centred on its direction, hence the +22.5 shift.
    // The cast cannot overflow: the value is in 0..8 (or NaN, which casts to 0).
    let index = (((wrapped + 22.5) / 45.0).floor() as usize) % SECTORS.len();
    SECTORS[index]
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn point(lat: f64, lon: f64) -> Coordinates {
        Coordinates::new(lat, lon).unwrap()
    }

    #[test]
    fn new_accepts_range_limits_and_rejects_outside_or_non_finite() {
        assert!(Coordinates::new(90.0, 180.0).is_some());
        assert!(Coordinates::new(-90.0, -180.0).is_some());
        assert!(Coordinates::new(90.01, 0.0).is_none());
        assert!(Coordinates::new(0.0, -180.5).is_none());
        assert!(Coordinates::new(f64::NAN, 0.0).is_none());
        assert!(Coordinates::new(0.0, f64::INFINITY).is_none());
    }

    #[test]
    fn distance_matches_known_city_pairs() {
        let paris = point(48.8566, 2.3522);
        let london = point(51.5074, -0.1278);
        let d = paris.distance_m(&london);
        assert!((d - 343_560.0).abs() < 1_000.0, "got {d}");
        assert_eq!(paris.distance_m(&paris), 0.0);
        let one_degree = point(0.0, 0.0).distance_m(&point(0.0, 1.0));
        assert!((one_degree - 111_195.0).abs() < 5.0, "got {one_degree}");
    }

    #[test]
    fn distance_between_antipodes_is_half_the_circumference() {
        let d = point(0.0, 0.0).distance_m(&point(0.0, 180.0));
        assert!((d - std::f64::consts::PI * EARTH_RADIUS_M).abs() < 1.0);
    }

    #[test]
    fn bearing_points_along_the_main_directions() {
        let origin = point(0.0, 0.0);
        assert!((origin.bearing_deg(&point(1.0, 0.0)) - 0.0).abs() < 1e-9);
        assert!((origin.bearing_deg(&point(0.0, 1.0)) - 90.0).abs() < 1e-9);
        assert!((origin.bearing_deg(&point(-1.0, 0.0)) - 180.0).abs() < 1e-9);
        assert!((origin.bearing_deg(&point(0.0, -1.0)) - 270.0).abs() < 1e-9);
    }

    #[test]
    fn moving_along_a_bearing_lands_that_far_away_in_that_direction() {
        let start = point(55.75, 37.62);
        for bearing in [0.0, 45.0, 90.0, 200.0, 315.0] {
            let there = start.moved(bearing, 250.0);
            assert!((start.distance_m(&there) - 250.0).abs() < 0.01, "{there:?}");
            assert!(
                (start.bearing_deg(&there) - bearing).abs() < 0.01,
                "{there:?}"
            );
        }
        assert!((point(0.0, 179.9999).moved(90.0, 100.0).lon + 179.999).abs() < 0.001);
    }

    #[test]
    fn bearing_is_always_in_zero_to_360() {
        let b = point(10.0, 10.0).bearing_deg(&point(10.5, 9.99999));
        assert!((0.0..360.0).contains(&b), "got {b}");
    }

    #[test]
    fn rounded_key_uses_three_decimals_and_no_negative_zero() {
        assert_eq!(point(55.75222, 37.61556).rounded_key(), "55.752,37.616");
        assert_eq!(point(-0.0001, -0.0004).rounded_key(), "0.000,0.000");
        assert_eq!(point(-33.8688, 151.2093).rounded_key(), "-33.869,151.209");
    }

    #[test]
    fn compass_sectors_are_centred_on_their_direction() {
        assert_eq!(compass_direction(0.0), Compass::N);
        assert_eq!(compass_direction(22.4), Compass::N);
        assert_eq!(compass_direction(22.5), Compass::NE);
        assert_eq!(compass_direction(90.0), Compass::E);
        assert_eq!(compass_direction(180.0), Compass::S);
        assert_eq!(compass_direction(225.0), Compass::SW);
        assert_eq!(compass_direction(300.0), Compass::NW);
        assert_eq!(compass_direction(359.9), Compass::N);
        assert_eq!(compass_direction(-45.0), Compass::NW);
        assert_eq!(compass_direction(720.0 + 135.0), Compass::SE);
    }
}
