//! Integration tests of `WikipediaSource` and `find_places` against [`MockWikipedia`], a local
//! server that answers like the real MediaWiki API.

use std::time::Duration;

use crate::helpers::mock_wikipedia::{EXPECTED_TITLES, MockWikipedia, NEAREST_TITLE};
use excursobot::geo::Coordinates;
use excursobot::places::wikipedia::{WikipediaConfig, WikipediaSource, find_places};
use excursobot::places::{PlaceError, PlaceId, PlaceSource};

const USER_AGENT: &str = "excursobot-test/0.1 (https://example.org/bot; bot@example.org)";

fn red_square() -> Coordinates {
    Coordinates::new(55.7539, 37.6208).unwrap()
}

fn source_for(template: String, timeout: Duration) -> WikipediaSource {
    let config = WikipediaConfig {
        api_url_template: template,
        timeout,
        ..WikipediaConfig::new(USER_AGENT)
    };
    WikipediaSource::new(config).unwrap()
}

fn source(mock: &MockWikipedia) -> WikipediaSource {
    source_for(mock.api_url_template(), Duration::from_secs(5))
}

fn titles(places: &[excursobot::places::Place]) -> Vec<&str> {
    places.iter().map(|p| p.title.as_str()).collect()
}

#[tokio::test]
async fn places_come_nearest_first_without_disambiguation_or_list_pages() {
    let mock = MockWikipedia::start().await;
    mock.serve_places("ru").await;

    let places = source(&mock)
        .places_near(red_square(), "ru", 1000)
        .await
        .unwrap();

    assert_eq!(titles(&places), EXPECTED_TITLES);
    let nearest = &places[0];
    assert_eq!(
        nearest.title, NEAREST_TITLE,
        "titles stay raw, not HTML-escaped"
    );
    assert_eq!(nearest.id, PlaceId("ru:1002".into()));
    assert_eq!(nearest.distance_m, 120.0);
    assert_eq!(nearest.lang, "ru");
    assert!(
        nearest
            .source_url
            .starts_with("https://ru.wikipedia.org/wiki/Caf")
    );
    assert!(nearest.image_url.as_deref().unwrap().contains("500px-"));
    assert!(nearest.coordinates.lat > red_square().lat);
    assert_eq!(places[1].image_url, None, "Quiet Garden has no thumbnail");
    assert!(places[2].summary.starts_with("Old Church is a place"));
}

#[tokio::test]
async fn one_request_carries_the_whole_query_and_a_user_agent() {
    let mock = MockWikipedia::start().await;
    mock.serve_places("de").await;

    source(&mock)
        .places_near(red_square(), "de", 20_000)
        .await
        .unwrap();

    let requests = mock.requests().await;
    assert_eq!(requests.len(), 1);
    let seen = &requests[0];
    assert_eq!((seen.lang.as_str(), seen.radius.as_str()), ("de", "10000"));
    assert_eq!(seen.user_agent.as_deref(), Some(USER_AGENT));
    let param = |name: &str| {
        seen.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(param("codistancefrompoint"), Some("55.753900|37.620800"));
    assert_eq!(param("colimit"), Some("max"));
    assert_eq!(param("exintro"), Some("1"));
    assert_eq!(param("redirects"), None);
}

#[tokio::test]
async fn find_places_falls_back_to_english_when_the_user_wiki_is_empty() {
    let mock = MockWikipedia::start().await;
    mock.serve_empty("uk").await;
    mock.serve_places("en").await;

    let places = find_places(&source(&mock), red_square(), "uk", 1000)
        .await
        .unwrap();

    assert_eq!(places[0].id, PlaceId("en:1002".into()));
    let asked: Vec<(String, String)> = mock
        .requests()
        .await
        .into_iter()
        .map(|r| (r.lang, r.radius))
        .collect();
    assert_eq!(
        asked,
        [("uk".into(), "1000".into()), ("en".into(), "1000".into())]
    );
}

#[tokio::test]
async fn find_places_widens_the_radius_until_something_is_found() {
    let mock = MockWikipedia::start().await;
    mock.serve_empty("fr").await;
    mock.serve_empty("en").await;
    mock.serve_places_at_radius("fr", 3000).await;

    let places = find_places(&source(&mock), red_square(), "fr", 1000)
        .await
        .unwrap();

    assert_eq!(places[0].lang, "fr");
    let asked: Vec<String> = mock
        .requests()
        .await
        .into_iter()
        .map(|r| format!("{}@{}", r.lang, r.radius))
        .collect();
    assert_eq!(asked, ["fr@1000", "en@1000", "fr@3000"]);
}

#[tokio::test]
async fn find_places_with_nothing_anywhere_is_an_empty_list() {
    let mock = MockWikipedia::start().await;
    mock.serve_empty("en").await;

    let places = find_places(&source(&mock), red_square(), "en", 1000)
        .await
        .unwrap();

    assert!(places.is_empty());
    assert_eq!(mock.requests().await.len(), 3, "1000, 3000 and 10000 m");
}

#[tokio::test]
async fn api_error_sent_with_http_200_is_an_api_error() {
    let mock = MockWikipedia::start().await;
    mock.serve_error("en", "invalid-coord", "Invalid coordinate provided")
        .await;

    let result = source(&mock).places_near(red_square(), "en", 1000).await;
    assert!(matches!(result, Err(PlaceError::Api { ref code, .. }) if code == "invalid-coord"));

    let result = find_places(&source(&mock), red_square(), "en", 1000).await;
    assert!(
        matches!(result, Err(PlaceError::Api { .. })),
        "every request failed"
    );
}

#[tokio::test]
async fn maxlag_answer_asks_to_wait_for_retry_after() {
    let mock = MockWikipedia::start().await;
    mock.serve_maxlag("en", 7).await;

    let result = source(&mock).places_near(red_square(), "en", 1000).await;

    let expected = Duration::from_secs(7);
    assert!(matches!(result, Err(PlaceError::Lagged { retry_after }) if retry_after == expected));
}

#[tokio::test]
async fn unreachable_server_is_reported_as_unreachable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let source = source_for(
        format!("http://127.0.0.1:{port}/{{lang}}/w/api.php"),
        Duration::from_secs(5),
    );

    let result = source.places_near(red_square(), "en", 1000).await;
    assert!(
        matches!(result, Err(PlaceError::Unreachable(_))),
        "{result:?}"
    );

    let result = find_places(&source, red_square(), "ru", 1000).await;
    assert!(
        matches!(result, Err(PlaceError::Unreachable(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn slow_server_times_out_as_unreachable() {
    let mock = MockWikipedia::start().await;
    mock.serve_slowly("en", Duration::from_secs(3)).await;
    let source = source_for(mock.api_url_template(), Duration::from_millis(200));

    let result = source.places_near(red_square(), "en", 1000).await;

    assert!(
        matches!(result, Err(PlaceError::Unreachable(ref e)) if e.is_timeout()),
        "{result:?}"
    );
}
