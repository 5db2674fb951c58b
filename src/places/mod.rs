//! Real places near a point: the domain types, the [`PlaceSource`] trait, and
//! [`find_places`], the search strategy the bot uses (the user's language first, then
//! English, then a wider radius).
//!
//! Sources: [`wikipedia::WikipediaSource`] (online, the primary) and
//! [`gazetteer::Gazetteer`] (offline nearest locality, the last resort).

pub mod gazetteer;
pub mod names;
pub mod wikipedia;

use std::time::Duration;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::geo::Coordinates;

/// Radii (metres) [`find_places`] widens to, in order, after the caller's own radius.
pub const RADIUS_STEPS_M: [u32; 3] = [1_000, 3_000, 10_000];

/// Language [`find_places`] falls back to when the user's wiki has nothing nearby.
pub const FALLBACK_LANG: &str = "en";

/// Stable id of a place: the wiki language plus its page id ("en:12345"); never repeat a place to a user.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PlaceId(pub String);

impl std::fmt::Display for PlaceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A real place with enough data for a story, a photo, a map pin and a source link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Place {
    /// Stable id, used to never tell a user about the same place twice.
    pub id: PlaceId,
    /// Plain-text title (not HTML-escaped: escape it when rendering HTML).
    pub title: String,
    /// Where the map pin goes.
    pub coordinates: Coordinates,
    /// Distance from the searched point, in metres.
    pub distance_m: f64,
    /// Plain-text summary (the article's intro); never empty.
    pub summary: String,
    /// Thumbnail URL (about 500 px wide) when the article has a free lead image.
    pub image_url: Option<String>,
    /// Link to the article the facts come from.
    pub source_url: String,
    /// Language of the wiki the place came from (the user's or the fallback).
    pub lang: String,
}

/// Why a place lookup failed; every variant means "try the offline gazetteer".
#[derive(Debug, thiserror::Error)]
pub enum PlaceError {
    /// The request never got an answer: connection refused, DNS, timeout, broken body.
    #[error("place source unreachable: {0}")]
    Unreachable(#[source] reqwest::Error),
    /// The server answered with a non-success HTTP status and no API error body.
    #[error("place source answered HTTP {status}")]
    Http {
        /// The HTTP status code.
        status: u16,
    },
    /// The API reported an error (MediaWiki sends these with HTTP 200).
    #[error("place source API error {code}: {info}")]
    Api {
        /// Machine-readable code, e.g. `invalid-coord`.
        code: String,
        /// Human-readable explanation from the server.
        info: String,
    },
    /// The server is overloaded (`maxlag` error or HTTP 429) and asks us to wait.
    #[error("place source is lagging; retry after {retry_after:?}")]
    Lagged {
        /// How long the server asked us to wait (`Retry-After`, at least 5 s for maxlag).
        retry_after: Duration,
    },
    /// The answer was not the JSON shape we expect.
    #[error("place source answered malformed data: {0}")]
    Malformed(String),
    /// A language code that cannot be part of a wiki host name.
    #[error("invalid wiki language code {0:?}")]
    InvalidLanguage(String),
    /// The source could not be built (bad URL template, HTTP client setup).
    #[error("place source misconfigured: {0}")]
    Config(String),
}

/// Something that finds real places near a point (Wikipedia, or a stub in tests).
pub trait PlaceSource: Send + Sync {
    /// Places within `radius_m` of `point` from the `lang` wiki, nearest first,
    /// without disambiguation or list pages.
    fn places_near<'a>(
        &'a self,
        point: Coordinates,
        lang: &'a str,
        radius_m: u32,
    ) -> BoxFuture<'a, Result<Vec<Place>, PlaceError>>;
}

/// Finds places the way the bot wants them: at each radius (first `radius_m`, then each
/// larger step of [`RADIUS_STEPS_M`]) ask the `lang` wiki, then English; return the first
/// non-empty list.
///
/// Errors: `Ok(vec![])` if at least one request succeeded but nothing was found anywhere;
/// the last error if every request failed. An `Unreachable` or `Lagged` error stops the
/// search at once (the next request would wait for the same timeout or overload).
pub async fn find_places(
    source: &dyn PlaceSource,
    point: Coordinates,
    lang: &str,
    radius_m: u32,
) -> Result<Vec<Place>, PlaceError> {
    let mut last_error = None;
    let mut any_success = false;
    for (radius, wiki) in search_plan(lang, radius_m) {
        match source.places_near(point, wiki, radius).await {
            Ok(places) if !places.is_empty() => return Ok(places),
            Ok(_) => any_success = true,
            Err(error) => {
                tracing::warn!(%error, lang = wiki, radius, "place lookup failed");
                let fatal = matches!(
                    error,
                    PlaceError::Unreachable(_) | PlaceError::Lagged { .. }
                );
                last_error = Some(error);
                if fatal {
                    break;
                }
            }
        }
    }
    match last_error {
        Some(error) if !any_success => Err(error),
        _ => Ok(Vec::new()),
    }
}

/// The (radius, language) pairs [`find_places`] tries, in order.
fn search_plan(lang: &str, radius_m: u32) -> Vec<(u32, &str)> {
    let first = wikipedia::clamp_radius(radius_m);
    let radii = std::iter::once(first).chain(RADIUS_STEPS_M.into_iter().filter(|r| *r > first));
    let langs: Vec<&str> = if lang == FALLBACK_LANG {
        vec![lang]
    } else {
        vec![lang, FALLBACK_LANG]
    };
    radii
        .flat_map(|radius| langs.iter().map(move |wiki| (radius, *wiki)))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A source that answers from a script and records the requests it got.
    struct ScriptedSource {
        answer: fn(&str, u32) -> Result<Vec<Place>, PlaceError>,
        calls: Mutex<Vec<(String, u32)>>,
    }

    impl PlaceSource for ScriptedSource {
        fn places_near<'a>(
            &'a self,
            _point: Coordinates,
            lang: &'a str,
            radius_m: u32,
        ) -> BoxFuture<'a, Result<Vec<Place>, PlaceError>> {
            self.calls.lock().unwrap().push((lang.to_owned(), radius_m));
            Box::pin(async move { (self.answer)(lang, radius_m) })
        }
    }

    fn place(lang: &str) -> Place {
        Place {
            id: PlaceId(format!("{lang}:1")),
            title: "Somewhere".into(),
            coordinates: Coordinates::new(1.0, 2.0).unwrap(),
            distance_m: 10.0,
            summary: "A place.".into(),
            image_url: None,
            source_url: "https://example.org".into(),
            lang: lang.into(),
        }
    }

    async fn run(
        answer: fn(&str, u32) -> Result<Vec<Place>, PlaceError>,
        lang: &str,
        radius: u32,
    ) -> (Result<Vec<Place>, PlaceError>, Vec<(String, u32)>) {
        let source = ScriptedSource {
            answer,
            calls: Mutex::new(Vec::new()),
        };
        let point = Coordinates::new(55.75, 37.62).unwrap();
        let result = find_places(&source, point, lang, radius).await;
        (result, source.calls.into_inner().unwrap())
    }

    fn calls(list: &[(&str, u32)]) -> Vec<(String, u32)> {
        list.iter().map(|(l, r)| ((*l).to_owned(), *r)).collect()
    }

    #[tokio::test]
    async fn user_language_is_tried_first_and_wins_when_it_has_places() {
        let (result, seen) = run(|lang, _| Ok(vec![place(lang)]), "ru", 1000).await;
        assert_eq!(result.unwrap()[0].lang, "ru");
        assert_eq!(seen, calls(&[("ru", 1000)]));
    }

    #[tokio::test]
    async fn english_is_asked_at_the_same_radius_before_widening() {
        let answer = |lang: &str, _| {
            Ok(if lang == "en" {
                vec![place("en")]
            } else {
                vec![]
            })
        };
        let (result, seen) = run(answer, "ru", 1000).await;
        assert_eq!(result.unwrap()[0].lang, "en");
        assert_eq!(seen, calls(&[("ru", 1000), ("en", 1000)]));
    }

    #[tokio::test]
    async fn radius_widens_through_the_larger_steps_only() {
        let answer = |lang: &str, r| {
            Ok(if r == 10_000 {
                vec![place(lang)]
            } else {
                vec![]
            })
        };
        let (result, seen) = run(answer, "en", 500).await;
        assert_eq!(result.unwrap().len(), 1);
        assert_eq!(
            seen,
            calls(&[("en", 500), ("en", 1000), ("en", 3000), ("en", 10_000)])
        );
    }

    #[tokio::test]
    async fn nothing_anywhere_is_an_empty_list() {
        let (result, seen) = run(|_, _| Ok(vec![]), "de", 3000).await;
        assert!(result.unwrap().is_empty());
        assert_eq!(seen.len(), 4);
    }

    #[tokio::test]
    async fn every_request_failing_returns_the_error() {
        let api = |_: &str, _| {
            Err(PlaceError::Api {
                code: "x".into(),
                info: "y".into(),
            })
        };
        let (result, seen) = run(api, "de", 1000).await;
        assert!(matches!(result, Err(PlaceError::Api { .. })));
        assert_eq!(seen.len(), 6);
    }

    #[tokio::test]
    async fn some_success_with_some_errors_is_an_empty_list() {
        let answer = |lang: &str, _| match lang {
            "en" => Ok(vec![]),
            _ => Err(PlaceError::Malformed("bad".into())),
        };
        let (result, _) = run(answer, "de", 1000).await;
        assert!(result.unwrap().is_empty());
    }

    #[tokio::test]
    async fn lagging_source_stops_the_search_at_once() {
        let lagged = |_: &str, _| {
            Err(PlaceError::Lagged {
                retry_after: Duration::from_secs(5),
            })
        };
        let (result, seen) = run(lagged, "de", 1000).await;
        assert!(matches!(result, Err(PlaceError::Lagged { .. })));
        assert_eq!(seen.len(), 1);
    }

    #[test]
    fn search_plan_clamps_an_oversized_radius_to_the_api_maximum() {
        let plan = search_plan("fr", 50_000);
        assert_eq!(plan, vec![(10_000, "fr"), (10_000, "en")]);
    }
}
