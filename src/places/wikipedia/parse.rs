//! Turns a MediaWiki `generator=geosearch` answer into places: error bodies first (they come
//! with HTTP 200), then each page of either format version, dropping what is not a place.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::geo::Coordinates;
use crate::places::{Place, PlaceError, PlaceId};

/// Wait suggested for a `maxlag`/429 answer without a usable `Retry-After` header.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);
/// Title prefixes of list articles, which are not places to tell a story about.
const LIST_PREFIXES: [&str; 6] = [
    "List of ",
    "Lists of ",
    "Список ",
    "Liste d",
    "Lista d",
    "Elenco d",
];

/// What the answer is about: needed for distances, ids and fallback URLs.
pub(super) struct Request<'a> {
    /// The searched point.
    pub point: Coordinates,
    /// The wiki language asked.
    pub lang: &'a str,
    /// The URL that was requested (fallback article links are built from it).
    pub api_url: &'a Url,
}

/// The top level of an answer; anything else in it (warnings, continue, limits) is ignored.
#[derive(Debug, Deserialize)]
struct Envelope {
    error: Option<ApiErrorBody>,
    /// Absent when the generator found nothing.
    query: Option<Query>,
}

/// `error` object; fv1 puts the doc link in `"*"`, fv2 in `docref`, neither is needed.
#[derive(Debug, Deserialize)]
struct ApiErrorBody {
    #[serde(default)]
    code: String,
    #[serde(default)]
    info: String,
}

/// `query`; `pages` is a list (fv2) or an object keyed by page id (fv1).
#[derive(Debug, Deserialize)]
struct Query {
    pages: Option<Value>,
}

/// What a page needs to become a [`Place`], in either format version.
#[derive(Debug, Deserialize)]
struct RawPage {
    /// Absent in some trimmed fv1 answers, where the object key carries it.
    pageid: Option<i64>,
    #[serde(default)]
    title: String,
    /// Absent when `colimit` ran out or the page has no coordinates.
    #[serde(default)]
    coordinates: Vec<RawCoordinate>,
    thumbnail: Option<Thumbnail>,
    extract: Option<String>,
    fullurl: Option<String>,
    /// Absent altogether on ordinary pages.
    pageprops: Option<serde_json::Map<String, Value>>,
    /// `""` (fv1) or `true` (fv2) for a page that does not exist.
    missing: Option<Value>,
}

/// One entry of `coordinates`; numbers may be JSON integers, which serde reads as `f64`.
#[derive(Debug, Deserialize)]
struct RawCoordinate {
    lat: f64,
    lon: f64,
    /// Present because we send `codistancefrompoint`.
    dist: Option<f64>,
    globe: Option<String>,
}

/// `thumbnail`; its `width` may not match the file the URL points to, so only the URL is kept.
#[derive(Debug, Deserialize)]
struct Thumbnail {
    source: String,
}

/// Why a page did not become a place (logged at debug level, asserted in tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Skip {
    Missing,
    Disambiguation,
    ListPage,
    NoCoordinates,
    NoSummary,
}

/// Parses an answer into places, nearest first.
pub(super) fn parse_places(
    body: &str,
    status: u16,
    retry_after: Option<Duration>,
    request: &Request<'_>,
) -> Result<Vec<Place>, PlaceError> {
    let pages = parse_body(body, status, retry_after)?;
    Ok(into_sorted_places(pages, request))
}

/// Checks for errors and returns the raw pages (none when there is no `query`).
fn parse_body(
    body: &str,
    status: u16,
    retry_after: Option<Duration>,
) -> Result<Vec<RawPage>, PlaceError> {
    match serde_json::from_str::<Envelope>(body) {
        Ok(Envelope {
            error: Some(error), ..
        }) => Err(api_error(error, retry_after)),
        _ if status == 429 => Err(PlaceError::Lagged {
            retry_after: retry_after.unwrap_or(DEFAULT_RETRY_AFTER),
        }),
        _ if !(200..300).contains(&status) => Err(PlaceError::Http { status }),
        Ok(envelope) => Ok(raw_pages(envelope.query.and_then(|q| q.pages))),
        Err(error) => Err(PlaceError::Malformed(error.to_string())),
    }
}

/// `maxlag` means "wait and retry"; every other code is a plain API error.
fn api_error(error: ApiErrorBody, retry_after: Option<Duration>) -> PlaceError {
    if error.code == "maxlag" {
        let retry_after = retry_after.unwrap_or(DEFAULT_RETRY_AFTER);
        return PlaceError::Lagged { retry_after };
    }
    PlaceError::Api {
        code: error.code,
        info: error.info,
    }
}

/// Reads each page on its own, so one odd page does not lose the others.
fn raw_pages(pages: Option<Value>) -> Vec<RawPage> {
    match pages {
        Some(Value::Array(items)) => items
            .into_iter()
            .filter_map(|v| raw_page(v, None))
            .collect(),
        Some(Value::Object(map)) => map
            .into_iter()
            .filter_map(|(key, v)| raw_page(v, key.parse().ok()))
            .collect(),
        _ => Vec::new(),
    }
}

/// One page; `key_id` is the fv1 object key, used when the page lacks `pageid`.
fn raw_page(value: Value, key_id: Option<i64>) -> Option<RawPage> {
    match serde_json::from_value::<RawPage>(value) {
        Ok(page) => Some(RawPage {
            pageid: page.pageid.or(key_id),
            ..page
        }),
        Err(error) => {
            tracing::warn!(%error, "unreadable wikipedia page skipped");
            None
        }
    }
}

/// Keeps the pages that are places and sorts them by distance.
fn into_sorted_places(pages: Vec<RawPage>, request: &Request<'_>) -> Vec<Place> {
    let mut places: Vec<Place> = pages
        .into_iter()
        .filter_map(|page| {
            let title = page.title.clone();
            page.into_place(request)
                .map_err(|skip| tracing::debug!(?skip, %title, "wikipedia page skipped"))
                .ok()
        })
        .collect();
    places.sort_by(|a, b| a.distance_m.total_cmp(&b.distance_m));
    places
}

/// An API boolean: absent, `null` and `false` are false; `""` (fv1) and `true` (fv2) are true.
fn is_set(value: Option<&Value>) -> bool {
    !matches!(value, None | Some(Value::Null) | Some(Value::Bool(false)))
}

/// Whether a title names a list article rather than a place.
fn is_list_title(title: &str) -> bool {
    LIST_PREFIXES.iter().any(|prefix| title.starts_with(prefix))
}

/// Article URL built from the API URL when `fullurl` is missing:
/// `.../w/api.php` becomes `.../wiki/Title_with_underscores` (percent-encoded).
fn article_url(api_url: &Url, title: &str) -> String {
    let mut url = api_url.clone();
    url.set_query(None);
    if let Ok(mut segments) = url.path_segments_mut() {
        segments
            .pop()
            .pop()
            .push("wiki")
            .push(&title.replace(' ', "_"));
    }
    url.to_string()
}

impl RawPage {
    /// Turns the page into a place, or says why it is not one.
    fn into_place(self, request: &Request<'_>) -> Result<Place, Skip> {
        let page_id = self.pageid.filter(|id| *id > 0).ok_or(Skip::Missing)?;
        if is_set(self.missing.as_ref()) || self.title.is_empty() {
            return Err(Skip::Missing);
        }
        let props = self.pageprops.as_ref();
        if is_set(props.and_then(|p| p.get("disambiguation"))) {
            return Err(Skip::Disambiguation);
        }
        if is_list_title(&self.title) {
            return Err(Skip::ListPage);
        }
        let (coordinates, distance_m) = self.position(request.point).ok_or(Skip::NoCoordinates)?;
        let summary = self.extract.as_deref().map(str::trim).unwrap_or_default();
        if summary.is_empty() {
            return Err(Skip::NoSummary);
        }
        let lang = request.lang;
        Ok(Place {
            id: PlaceId(format!("{lang}:{page_id}")),
            summary: summary.to_owned(),
            coordinates,
            distance_m,
            image_url: self.thumbnail.map(|t| t.source),
            source_url: (self.fullurl).unwrap_or_else(|| article_url(request.api_url, &self.title)),
            lang: lang.to_owned(),
            title: self.title,
        })
    }

    /// The pin (first Earth coordinate) and its distance: the server's `dist`, else haversine.
    fn position(&self, point: Coordinates) -> Option<(Coordinates, f64)> {
        let first = self.coordinates.first()?;
        if first.globe.as_deref().is_some_and(|g| g != "earth") {
            return None;
        }
        let pin = Coordinates::new(first.lat, first.lon)?;
        let dist = first.dist.filter(|d| d.is_finite() && *d >= 0.0);
        Some((pin, dist.unwrap_or_else(|| point.distance_m(&pin))))
    }
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
