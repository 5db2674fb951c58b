//! [`WikipediaSource`]: places near a point from one MediaWiki Action API request
//! (`generator=geosearch` plus coordinates, intro extracts, thumbnails, URLs and the
//! disambiguation flag), parsed tolerantly and sorted nearest first.
//!
//! Traps handled here (see `reference/WIKIPEDIA.md`): the generator's `index` is not a
//! distance, so we sort by `coordinates[0].dist` (or our own haversine when it is absent);
//! errors come with HTTP 200; an empty result has no `query` key; numbers may be integers;
//! `formatversion=1` shapes (pages keyed by id, `""` for true) are accepted too.

use std::time::Duration;

use futures::future::BoxFuture;
use url::Url;

mod parse;

/// Re-exported: the search strategy over any [`PlaceSource`] (defined in `places`).
pub use super::find_places;
use super::{Place, PlaceError, PlaceSource};
use crate::geo::Coordinates;

/// Production API endpoint; `{lang}` is replaced by the wiki language code.
pub const DEFAULT_API_URL_TEMPLATE: &str = "https://{lang}.wikipedia.org/w/api.php";
/// Default number of pages asked for; also the most that get an extract (`exlimit` max 20),
/// so asking for more would only return pages we must drop for lack of a summary.
pub const DEFAULT_LIMIT: u32 = 20;
/// Default whole-request timeout: a user is waiting for the answer.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Smallest radius GeoData accepts (smaller is an error, not clamped by the server).
pub const MIN_RADIUS_M: u32 = 10;
/// Largest radius GeoData accepts.
pub const MAX_RADIUS_M: u32 = 10_000;

/// The query parameters that never change. No `redirects`: a MediaWiki boolean is true
/// whenever present (even `redirects=0`), and geosearch returns no redirect pages anyway.
const FIXED_PARAMS: [(&str, &str); 13] = [
    ("action", "query"),
    ("format", "json"),
    ("formatversion", "2"),
    ("generator", "geosearch"),
    ("prop", "coordinates|pageimages|extracts|info|pageprops"),
    // Without it only 10 coordinates are given across all pages.
    ("colimit", "max"),
    ("piprop", "thumbnail"),
    // A standard thumbnail width step (the default is 50 px).
    ("pithumbsize", "500"),
    // Without exintro only one page gets an extract.
    ("exintro", "1"),
    ("explaintext", "1"),
    ("exlimit", "max"),
    ("inprop", "url"),
    ("ppprop", "disambiguation"),
];

/// How to reach Wikipedia; every field is configurable so tests can use a local mock.
#[derive(Debug, Clone, PartialEq)]
pub struct WikipediaConfig {
    /// API URL with a `{lang}` placeholder, e.g. [`DEFAULT_API_URL_TEMPLATE`] or
    /// `http://127.0.0.1:PORT/{lang}/w/api.php` in tests.
    pub api_url_template: String,
    /// `User-Agent` with a contact address, as Wikimedia's policy requires.
    pub user_agent: String,
    /// Timeout of a whole request (connect, send, read body).
    pub timeout: Duration,
    /// `ggslimit`: how many pages to ask for; clamped to 1..=[`DEFAULT_LIMIT`].
    pub limit: u32,
}

impl WikipediaConfig {
    /// The production endpoint with default timeout and limit and the given `User-Agent`.
    pub fn new(user_agent: impl Into<String>) -> Self {
        Self {
            api_url_template: DEFAULT_API_URL_TEMPLATE.to_owned(),
            user_agent: user_agent.into(),
            timeout: DEFAULT_TIMEOUT,
            limit: DEFAULT_LIMIT,
        }
    }
}

/// A [`PlaceSource`] backed by the MediaWiki Action API; cheap to share behind an `Arc`.
#[derive(Debug, Clone)]
pub struct WikipediaSource {
    /// One pooled client for every language (keeps connections alive).
    client: reqwest::Client,
    /// Checked at construction to contain `{lang}` and give a valid URL.
    api_url_template: String,
    /// Already clamped `ggslimit`.
    limit: u32,
}

/// Clamps a radius to the 10..=10000 m range the API accepts.
pub fn clamp_radius(radius_m: u32) -> u32 {
    radius_m.clamp(MIN_RADIUS_M, MAX_RADIUS_M)
}

impl WikipediaSource {
    /// Builds the HTTP client; fails on a template without `{lang}` or an invalid URL.
    pub fn new(config: WikipediaConfig) -> Result<Self, PlaceError> {
        if !config.api_url_template.contains("{lang}") {
            return Err(PlaceError::Config("api_url_template lacks {lang}".into()));
        }
        Url::parse(&config.api_url_template.replace("{lang}", "en"))
            .map_err(|e| PlaceError::Config(format!("api_url_template: {e}")))?;
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent(config.user_agent)
            .build()
            .map_err(|e| PlaceError::Config(format!("HTTP client: {e}")))?;
        Ok(Self {
            client,
            api_url_template: config.api_url_template,
            limit: config.limit.clamp(1, DEFAULT_LIMIT),
        })
    }

    /// The full request URL for one lookup.
    fn request_url(
        &self,
        point: Coordinates,
        lang: &str,
        radius_m: u32,
    ) -> Result<Url, PlaceError> {
        if !is_valid_lang(lang) {
            return Err(PlaceError::InvalidLanguage(lang.to_owned()));
        }
        let mut url = Url::parse(&self.api_url_template.replace("{lang}", lang))
            .map_err(|e| PlaceError::Config(format!("api url for {lang}: {e}")))?;
        let coord = format!("{:.6}|{:.6}", point.lat, point.lon);
        let (radius, limit) = (clamp_radius(radius_m).to_string(), self.limit.to_string());
        url.query_pairs_mut()
            .extend_pairs(FIXED_PARAMS)
            .extend_pairs([
                ("ggscoord", coord.as_str()),
                ("ggsradius", radius.as_str()),
                ("ggslimit", limit.as_str()),
                ("codistancefrompoint", coord.as_str()),
            ]);
        Ok(url)
    }

    /// One request and its parsed, filtered, sorted places.
    async fn fetch(
        &self,
        point: Coordinates,
        lang: &str,
        radius_m: u32,
    ) -> Result<Vec<Place>, PlaceError> {
        let url = self.request_url(point, lang, radius_m)?;
        let response = self.client.get(url.clone()).send().await;
        let response = response.map_err(PlaceError::Unreachable)?;
        let status = response.status().as_u16();
        let retry_after = retry_after(response.headers());
        let body = response.text().await.map_err(PlaceError::Unreachable)?;
        parse::parse_places(
            &body,
            status,
            retry_after,
            &parse::Request {
                point,
                lang,
                api_url: &url,
            },
        )
    }
}

impl PlaceSource for WikipediaSource {
    fn places_near<'a>(
        &'a self,
        point: Coordinates,
        lang: &'a str,
        radius_m: u32,
    ) -> BoxFuture<'a, Result<Vec<Place>, PlaceError>> {
        Box::pin(self.fetch(point, lang, radius_m))
    }
}

/// Wiki codes are short lowercase ASCII words joined by hyphens (`en`, `zh-min-nan`); anything
/// else must never reach a host name.
fn is_valid_lang(lang: &str) -> bool {
    (2..=16).contains(&lang.len())
        && lang
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !lang.starts_with('-')
        && !lang.ends_with('-')
}

/// The `Retry-After` header in seconds, if present and numeric.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn source(limit: u32) -> WikipediaSource {
        crate::install_tls_provider();
        let config = WikipediaConfig {
            limit,
            ..WikipediaConfig::new("excursobot-test/0 (test@example.org)")
        };
        WikipediaSource::new(config).unwrap()
    }

    fn params(url: &Url) -> HashMap<String, String> {
        url.query_pairs().into_owned().collect()
    }

    #[test]
    fn request_asks_for_everything_in_one_query() {
        let point = Coordinates::new(55.7522, 37.6156).unwrap();
        let url = source(20).request_url(point, "ru", 1000).unwrap();
        assert_eq!(url.host_str(), Some("ru.wikipedia.org"));
        let p = params(&url);
        assert_eq!(p["generator"], "geosearch");
        assert_eq!(p["ggscoord"], "55.752200|37.615600");
        assert_eq!(p["codistancefrompoint"], p["ggscoord"]);
        assert_eq!(p["prop"], "coordinates|pageimages|extracts|info|pageprops");
        assert_eq!(
            (p["colimit"].as_str(), p["exlimit"].as_str()),
            ("max", "max")
        );
        assert_eq!(p["pithumbsize"], "500");
        assert_eq!(p["formatversion"], "2");
        // A MediaWiki boolean is true whenever present, so "redirects=0" would mean true.
        assert!(!p.contains_key("redirects"));
    }

    #[test]
    fn radius_and_limit_are_kept_in_the_ranges_the_api_accepts() {
        let point = Coordinates::new(0.0, 0.0).unwrap();
        let p = params(&source(500).request_url(point, "en", 5).unwrap());
        assert_eq!(
            (p["ggsradius"].as_str(), p["ggslimit"].as_str()),
            ("10", "20")
        );
        let p = params(&source(0).request_url(point, "en", 99_999).unwrap());
        assert_eq!(
            (p["ggsradius"].as_str(), p["ggslimit"].as_str()),
            ("10000", "1")
        );
    }

    #[test]
    fn language_codes_cannot_change_the_host() {
        let point = Coordinates::new(0.0, 0.0).unwrap();
        let s = source(20);
        assert!(s.request_url(point, "zh-min-nan", 100).is_ok());
        for bad in ["", "e", "en.evil.com", "EN", "en/", "-en", "a@b"] {
            let result = s.request_url(point, bad, 100);
            assert!(
                matches!(result, Err(PlaceError::InvalidLanguage(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn template_must_hold_a_language_placeholder_and_be_a_url() {
        let mut config = WikipediaConfig::new("ua");
        config.api_url_template = "https://en.wikipedia.org/w/api.php".into();
        assert!(matches!(
            WikipediaSource::new(config.clone()),
            Err(PlaceError::Config(_))
        ));
        config.api_url_template = "not a url {lang}".into();
        assert!(matches!(
            WikipediaSource::new(config),
            Err(PlaceError::Config(_))
        ));
    }
}
