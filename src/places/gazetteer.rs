//! [`Gazetteer`]: the offline last resort when Wikipedia fails — the nearest locality
//! (GeoNames places of 1000+ people, embedded by the `reverse_geocoder` crate).
//!
//! The table (~144k rows, ~8 MB of CSV in the binary) is parsed into a k-d tree on first use:
//! ~80 ms of CPU and ~50 MB of memory, so it is loaded lazily, once per `Gazetteer`, on a
//! blocking thread. After that a lookup takes microseconds. It knows locality *centre points*
//! only, so present the answer as "near X", not "in X".

use std::sync::{Arc, OnceLock};

use reverse_geocoder::ReverseGeocoder;
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

/// Lazily loaded offline reverse geocoder; clones share one loaded table.
#[derive(Clone)]
pub struct Gazetteer {
    /// Filled on first use; shared so a blocking task can fill it and every clone sees it.
    geocoder: Arc<OnceLock<ReverseGeocoder>>,
    /// Localities farther than this are not returned.
    max_distance_m: f64,
}

impl std::fmt::Debug for Gazetteer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gazetteer")
            .field("loaded", &self.is_loaded())
            .field("max_distance_m", &self.max_distance_m)
            .finish()
    }
}

impl Default for Gazetteer {
    fn default() -> Self {
        Self::new()
    }
}

impl Gazetteer {
    /// An unloaded gazetteer with [`DEFAULT_MAX_DISTANCE_M`]; loading happens on first use.
    pub fn new() -> Self {
        Self {
            geocoder: Arc::new(OnceLock::new()),
            max_distance_m: DEFAULT_MAX_DISTANCE_M,
        }
    }

    /// The same, answering `None` when the nearest locality is farther than `max_distance_m`.
    pub fn with_max_distance_m(mut self, max_distance_m: f64) -> Self {
        self.max_distance_m = max_distance_m;
        self
    }

    /// Whether the table has been loaded yet.
    pub fn is_loaded(&self) -> bool {
        self.geocoder.get().is_some()
    }

    /// Loads the table now (on a blocking thread), e.g. when Wikipedia starts failing.
    pub async fn preload(&self) {
        let cell = Arc::clone(&self.geocoder);
        if let Err(error) = tokio::task::spawn_blocking(move || {
            load(&cell);
        })
        .await
        {
            tracing::error!(%error, "gazetteer load task failed");
        }
    }

    /// The nearest locality within the distance limit; loads the table first if needed,
    /// without blocking the async runtime.
    pub async fn nearest(&self, point: Coordinates) -> Option<Locality> {
        if self.is_loaded() {
            return self.nearest_blocking(point);
        }
        let this = self.clone();
        match tokio::task::spawn_blocking(move || this.nearest_blocking(point)).await {
            Ok(locality) => locality,
            Err(error) => {
                tracing::error!(%error, "gazetteer lookup task failed");
                None
            }
        }
    }

    /// Like [`Gazetteer::nearest`] for synchronous code; blocks ~80 ms on the first call.
    pub fn nearest_blocking(&self, point: Coordinates) -> Option<Locality> {
        let found = load(&self.geocoder).search((point.lat, point.lon));
        let record = found.record;
        let coordinates = Coordinates::new(record.lat, record.lon)?;
        let distance_m = point.distance_m(&coordinates);
        (distance_m <= self.max_distance_m).then(|| Locality {
            name: record.name.clone(),
            admin_region: record.admin1.clone(),
            country_code: record.cc.clone(),
            coordinates,
            distance_m,
        })
    }
}

/// The loaded table, loading it (once, even under concurrent callers) if needed.
fn load(cell: &OnceLock<ReverseGeocoder>) -> &ReverseGeocoder {
    cell.get_or_init(|| {
        let started = std::time::Instant::now();
        let geocoder = ReverseGeocoder::new();
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis(),
            "gazetteer loaded"
        );
        geocoder
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn point(lat: f64, lon: f64) -> Coordinates {
        Coordinates::new(lat, lon).unwrap()
    }

    #[tokio::test]
    async fn finds_the_city_around_a_point_and_loads_only_once() {
        let gazetteer = Gazetteer::new();
        assert!(!gazetteer.is_loaded());
        let clone = gazetteer.clone();
        let (red_square, same) = tokio::join!(
            gazetteer.nearest(point(55.7539, 37.6208)),
            clone.nearest(point(55.7539, 37.6208)),
        );
        let red_square = red_square.unwrap();
        assert_eq!(red_square.name, "Moscow");
        assert_eq!(red_square.country_code, "RU");
        assert!(red_square.distance_m < 5_000.0, "{red_square:?}");
        assert_eq!(same.unwrap(), red_square);
        assert!(gazetteer.is_loaded() && clone.is_loaded());
    }

    #[tokio::test]
    async fn gives_the_nearest_centre_point_not_the_containing_city() {
        let gazetteer = Gazetteer::new();
        gazetteer.preload().await;
        let eiffel = gazetteer.nearest(point(48.8584, 2.2945)).await.unwrap();
        assert_eq!(eiffel.country_code, "FR");
        assert!(eiffel.distance_m < 5_000.0, "{eiffel:?}");
        assert!(!eiffel.admin_region.is_empty());
    }

    #[test]
    fn open_ocean_is_too_far_from_any_locality() {
        let gazetteer = Gazetteer::new();
        assert_eq!(gazetteer.nearest_blocking(point(-48.8767, -123.3933)), None);
        let lenient = gazetteer.with_max_distance_m(f64::INFINITY);
        assert!(
            lenient
                .nearest_blocking(point(-48.8767, -123.3933))
                .is_some()
        );
    }
}
