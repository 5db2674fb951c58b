//! Step one of a story: the places around the user, and the locality's name when there are
//! none to tell.
//!
//! Places come from the place list cache (a ~110 m cell, per language and radius), else
//! from the place source (Wikipedia); concurrent lookups of one cell share a single fetch,
//! so a crowd at one spot costs one request. The offline gazetteer names the locality for
//! the notes "nothing new here" and "my sources are out of reach".

use std::{sync::Arc, time::Instant};

use actix::Addr;
use metrics::{Counter, Histogram};

use crate::{
    actors::fact_cache::{FactCache, Get, Put},
    cache::places_key,
    geo::Coordinates,
    i18n::Lang,
    places::{Place, PlaceError, PlaceSource, find_places, gazetteer::Gazetteer},
    stats::{Metrics, registry::names},
};

/// Cells whose lookups can be in flight at once.
const LOOKUPS_CAPACITY: u64 = 10_000;

/// Finds the places around a point. Cheap to clone: clones share the lookups in flight.
#[derive(Clone)]
pub struct PlaceFinder {
    source: Arc<dyn PlaceSource>,
    /// Place lists are kept there (as compact JSON) for the next visitor.
    cache: Addr<FactCache>,
    gazetteer: Gazetteer,
    /// Place lists being fetched, so concurrent lookups of a cell share one fetch. Each is
    /// dropped once fetched: the fact cache keeps the list, and keeping it here too would
    /// hold every list twice.
    lookups: moka::future::Cache<String, Arc<Vec<Place>>>,
    /// Lookups by source, with their durations.
    figures: Arc<LookupFigures>,
}

/// Where a place lookup was answered.
#[derive(Clone, Copy)]
enum Source {
    Cache,
    Wikipedia,
    Gazetteer,
}

/// Place lookups by source and outcome, and how long they took.
struct LookupFigures {
    /// By source (cache, wikipedia, gazetteer), then found (0) or not (1).
    lookups: [[Counter; 2]; 3],
    durations: [Histogram; 3],
}

impl LookupFigures {
    const SOURCES: [&'static str; 3] = ["cache", "wikipedia", "gazetteer"];

    fn new(metrics: &Metrics) -> Self {
        let lookups = Self::SOURCES.map(|source| {
            ["found", "failed"].map(|outcome| {
                let labels = [("source", source), ("outcome", outcome)];
                metrics.counter(names::PLACE_LOOKUPS, &labels)
            })
        });
        let durations = Self::SOURCES
            .map(|source| metrics.histogram(names::PLACE_LOOKUP_DURATION, &[("source", source)]));
        Self { lookups, durations }
    }

    fn looked_up(&self, source: Source, found: bool, started: Instant) {
        self.lookups[source as usize][usize::from(!found)].increment(1);
        self.durations[source as usize].record(started.elapsed().as_secs_f64());
    }
}

impl PlaceFinder {
    /// A finder over `source`, keeping place lists in `cache`.
    pub fn new(source: Arc<dyn PlaceSource>, cache: Addr<FactCache>) -> Self {
        Self {
            source,
            cache,
            gazetteer: Gazetteer::new(),
            lookups: moka::future::Cache::new(LOOKUPS_CAPACITY),
            figures: Arc::new(LookupFigures::new(&Metrics::default())),
        }
    }

    /// Counts lookups in `metrics`.
    pub fn with_metrics(mut self, metrics: &Metrics) -> Self {
        self.figures = Arc::new(LookupFigures::new(metrics));
        self
    }

    /// The places around `point`'s ~110 m cell within `radius` m, in `lang` (distances as
    /// found for the cell; choosing one measures from the user).
    pub async fn near(
        &self,
        point: Coordinates,
        lang: Lang,
        radius: u32,
    ) -> Result<Arc<Vec<Place>>, Arc<PlaceError>> {
        let key = places_key(lang.code(), point, radius);
        // Whoever gets the list lets go of the shared copy.
        let fetch = self.fetch(key.clone(), point, lang, radius);
        let places = self.lookups.try_get_with_by_ref(&key, fetch).await;
        self.lookups.invalidate(&key).await;
        // moka holds an invalidated value until its next housekeeping; do it now.
        self.lookups.run_pending_tasks().await;
        places
    }

    /// The place list of a cell from the fact cache, else from the place source.
    async fn fetch(
        &self,
        key: String,
        point: Coordinates,
        lang: Lang,
        radius: u32,
    ) -> Result<Arc<Vec<Place>>, PlaceError> {
        let started = Instant::now();
        if let Ok(Some(json)) = self.cache.send(Get::new(key.clone())).await
            && let Ok(places) = serde_json::from_str::<Vec<Place>>(&json)
        {
            self.figures.looked_up(Source::Cache, true, started);
            return Ok(Arc::new(places));
        }
        let started = Instant::now();
        let found = find_places(self.source.as_ref(), point, lang.code(), radius).await;
        self.figures
            .looked_up(Source::Wikipedia, found.is_ok(), started);
        let found = found?;
        if let Ok(json) = serde_json::to_string(&found) {
            self.cache.do_send(Put {
                key,
                value: json.into(),
            });
        }
        Ok(Arc::new(found))
    }

    /// " You are near X." in `lang` for the nearest locality, or nothing when none is near.
    pub async fn you_are_near(&self, point: Coordinates, lang: Lang) -> String {
        let started = Instant::now();
        let nearest = self.gazetteer.nearest(point);
        let found = nearest.is_some();
        self.figures.looked_up(Source::Gazetteer, found, started);
        match nearest {
            Some(locality) => lang
                .texts()
                .you_are_near
                .replace("{locality}", &teloxide::utils::html::escape(&locality.name)),
            None => String::new(),
        }
    }
}
