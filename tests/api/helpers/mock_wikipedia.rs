//! [`MockWikipedia`]: a local MediaWiki Action API that answers the bot's one place query
//! (`generator=geosearch` + coordinates/pageimages/extracts/info/pageprops, formatversion=2)
//! the way the real API does, under `/{lang}/w/api.php`.
//!
//! The places answer mirrors real traps: `index` follows page ids while `coordinates[0].dist`
//! orders them differently, one `dist` is an integer, one page is a disambiguation page, one
//! a list page, one has no thumbnail, one has HTML-special characters in its title. An empty
//! answer has no `query` key, and errors come with HTTP 200.

use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Title of the nearest real place in the standard answer (HTML-special characters on purpose).
pub const NEAREST_TITLE: &str = "Café <Noir> & Co";
/// Titles of the places the standard answer should produce, nearest first.
pub const EXPECTED_TITLES: [&str; 3] = [NEAREST_TITLE, "Quiet Garden", "Old Church"];
/// Metres per degree of latitude, to place the pages at their stated distance north.
const METRES_PER_DEGREE: f64 = 111_195.0;

/// A running mock of `https://{lang}.wikipedia.org/w/api.php`; stops when dropped.
pub struct MockWikipedia {
    /// The wiremock server; kept so requests can be inspected.
    server: MockServer,
}

/// One request the mock received, reduced to what tests check.
#[derive(Debug, Clone, PartialEq)]
pub struct SeenRequest {
    /// The wiki language from the path.
    pub lang: String,
    /// `ggsradius` as sent.
    pub radius: String,
    /// Every query parameter as sent.
    pub params: Vec<(String, String)>,
    /// The `User-Agent` header, if any.
    pub user_agent: Option<String>,
}

impl MockWikipedia {
    /// Starts the server on a random local port, answering nothing yet (unmatched → 404).
    pub async fn start() -> Self {
        Self {
            server: MockServer::builder().start().await,
        }
    }

    /// The template to put in `WikipediaConfig::api_url_template`.
    pub fn api_url_template(&self) -> String {
        format!("{}/{{lang}}/w/api.php", self.server.uri())
    }

    /// `lang` answers every radius with the standard places (see module docs).
    pub async fn serve_places(&self, lang: &str) {
        self.mount(
            lang,
            None,
            PlacesResponder {
                lang: lang.to_owned(),
            },
        )
        .await;
    }

    /// `lang` answers the standard places as seen from `(lat, lon)`, wherever it is asked
    /// from: places that stay where they are while a walker moves past them.
    pub async fn serve_places_standing_at(&self, lang: &str, lat: f64, lon: f64) {
        let body = places_body(lang, lat, lon);
        self.mount(lang, None, ResponseTemplate::new(200).set_body_json(body))
            .await;
    }

    /// `lang` answers the standard places with page ids of their own for every ~110 m cell.
    pub async fn serve_distinct_places(&self, lang: &str) {
        let responder = DistinctPlacesResponder {
            lang: lang.to_owned(),
        };
        self.mount(lang, None, responder).await;
    }

    /// `lang` answers the standard places only when asked with exactly `radius_m`; this
    /// takes priority over the other answers for that language.
    pub async fn serve_places_at_radius(&self, lang: &str, radius_m: u32) {
        let responder = PlacesResponder {
            lang: lang.to_owned(),
        };
        self.mount(lang, Some(radius_m), responder).await;
    }

    /// `lang` finds nothing: the generator answer without a `query` key.
    pub async fn serve_empty(&self, lang: &str) {
        let body = json!({ "batchcomplete": true });
        self.mount(lang, None, ResponseTemplate::new(200).set_body_json(body))
            .await;
    }

    /// `lang` answers an API error with HTTP 200, in the fv2 shape.
    pub async fn serve_error(&self, lang: &str, code: &str, info: &str) {
        let body = error_body(code, info);
        self.mount(lang, None, ResponseTemplate::new(200).set_body_json(body))
            .await;
    }

    /// `lang` answers a `maxlag` error (HTTP 200, `Retry-After`).
    pub async fn serve_maxlag(&self, lang: &str, retry_after_s: u64) {
        let mut body = error_body("maxlag", "Waiting for 10.64.16.8: 7 seconds lagged");
        body["error"]["host"] = json!("10.64.16.8");
        body["error"]["lag"] = json!(7);
        body["error"]["type"] = json!("db");
        let template = ResponseTemplate::new(200)
            .set_body_json(body)
            .insert_header("Retry-After", retry_after_s.to_string().as_str())
            .insert_header("X-Database-Lag", "7");
        self.mount(lang, None, template).await;
    }

    /// `lang` answers the standard places, but only after `delay` (for timeout tests).
    pub async fn serve_slowly(&self, lang: &str, delay: Duration) {
        let body = places_body(lang, 0.0, 0.0);
        let template = ResponseTemplate::new(200)
            .set_body_json(body)
            .set_delay(delay);
        self.mount(lang, None, template).await;
    }

    /// Every geosearch request received so far, in order.
    pub async fn requests(&self) -> Vec<SeenRequest> {
        let received = self.server.received_requests().await.unwrap_or_default();
        received.iter().map(seen_request).collect()
    }

    /// Mounts `responder` for the geosearch query on `/{lang}/w/api.php`.
    async fn mount(&self, lang: &str, radius_m: Option<u32>, responder: impl Respond + 'static) {
        let mut mock = Mock::given(method("GET"))
            .and(path(format!("/{lang}/w/api.php")))
            .and(query_param("action", "query"))
            .and(query_param("generator", "geosearch"));
        if let Some(radius) = radius_m {
            mock = mock.and(query_param("ggsradius", radius.to_string()));
        }
        let priority = if radius_m.is_some() { 1 } else { 5 };
        mock.respond_with(responder)
            .with_priority(priority)
            .mount(&self.server)
            .await;
    }
}

/// Answers with the standard pages placed relative to the request's `ggscoord`.
struct PlacesResponder {
    lang: String,
}

impl Respond for PlacesResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let (lat, lon) = query_point(request).unwrap_or((0.0, 0.0));
        ResponseTemplate::new(200).set_body_json(places_body(&self.lang, lat, lon))
    }
}

/// Like [`PlacesResponder`], but each ~110 m cell has pages of its own (distinct page ids),
/// so users at different spots hear about different places.
struct DistinctPlacesResponder {
    lang: String,
}

impl Respond for DistinctPlacesResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let (lat, lon) = query_point(request).unwrap_or((0.0, 0.0));
        let cell = ((lat * 1000.0).round() as i64).unsigned_abs() * 100_003
            + ((lon * 1000.0).round() as i64).unsigned_abs();
        let mut body = places_body(&self.lang, lat, lon);
        if let Some(pages) = body["query"]["pages"].as_array_mut() {
            for page in pages {
                let id = page["pageid"].as_u64().unwrap_or(0) + cell * 10_000;
                page["pageid"] = json!(id);
            }
        }
        ResponseTemplate::new(200).set_body_json(body)
    }
}

/// `ggscoord=LAT|LON` of a request.
fn query_point(request: &Request) -> Option<(f64, f64)> {
    let (_, coord) = request.url.query_pairs().find(|(k, _)| k == "ggscoord")?;
    let (lat, lon) = coord.split_once('|')?;
    Some((lat.parse().ok()?, lon.parse().ok()?))
}

/// The fv2 error shape (`docref`, `servedby`).
fn error_body(code: &str, info: &str) -> Value {
    json!({
        "error": {
            "code": code,
            "info": info,
            "docref": "See https://en.wikipedia.org/w/api.php for API usage."
        },
        "servedby": "mw-api-ext.eqiad.main-5d8f7c9b8-x2x9z"
    })
}

/// The standard answer: pages in page-id (`index`) order, distances in another order.
pub fn places_body(lang: &str, lat: f64, lon: f64) -> Value {
    let pages = vec![
        page(
            lang,
            (1001, -1, "Old Church"),
            (lat, lon, json!(850.3)),
            true,
            None,
        ),
        page(
            lang,
            (1002, 0, NEAREST_TITLE),
            (lat, lon, json!(120)),
            true,
            None,
        ),
        page(
            lang,
            (1003, 1, "Town Square"),
            (lat, lon, json!(10.5)),
            true,
            Some(""),
        ),
        page(
            lang,
            (1004, 2, "Quiet Garden"),
            (lat, lon, json!(430.7)),
            false,
            None,
        ),
        page(
            lang,
            (1005, 3, "List of monuments"),
            (lat, lon, json!(55)),
            true,
            None,
        ),
    ];
    json!({ "batchcomplete": true, "query": { "pages": pages } })
}

/// One fv2 page `dist` metres north of the point, as the real API shapes it.
fn page(
    lang: &str,
    (pageid, index, title): (u64, i64, &str),
    (lat, lon, dist): (f64, f64, Value),
    with_thumbnail: bool,
    disambiguation: Option<&str>,
) -> Value {
    let north = dist.as_f64().unwrap_or(0.0) / METRES_PER_DEGREE;
    let slug = title.replace(' ', "_");
    let mut page = json!({
        "pageid": pageid, "ns": 0, "title": title, "index": index,
        "coordinates": [{ "lat": lat + north, "lon": lon, "primary": true, "globe": "earth", "dist": dist }],
        "extract": format!("{title} is a place used in tests.\nIt has a second paragraph."),
        "contentmodel": "wikitext", "pagelanguage": lang, "pagelanguagehtmlcode": lang,
        "pagelanguagedir": "ltr", "touched": "2026-01-15T10:00:00Z", "lastrevid": pageid * 7,
        "length": 4321,
        "fullurl": format!("https://{lang}.wikipedia.org/wiki/{slug}"),
        "editurl": format!("https://{lang}.wikipedia.org/w/index.php?title={slug}&action=edit"),
        "canonicalurl": format!("https://{lang}.wikipedia.org/wiki/{slug}"),
    });
    if with_thumbnail {
        let source = format!(
            "https://upload.wikimedia.org/wikipedia/commons/thumb/a/ab/{pageid}.jpg/500px-{pageid}.jpg"
        );
        page["thumbnail"] = json!({ "source": source, "width": 500, "height": 375 });
        page["pageimage"] = json!(format!("{pageid}.jpg"));
    }
    if let Some(flag) = disambiguation {
        page["pageprops"] = json!({ "disambiguation": flag });
    }
    page
}

/// Reduces a received request to a [`SeenRequest`].
fn seen_request(request: &Request) -> SeenRequest {
    let params: Vec<(String, String)> = request.url.query_pairs().into_owned().collect();
    let lang = request.url.path_segments().and_then(|mut s| s.next());
    let radius = params
        .iter()
        .find(|(k, _)| k == "ggsradius")
        .map(|(_, v)| v.clone());
    let user_agent = request
        .headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok());
    SeenRequest {
        lang: lang.unwrap_or_default().to_owned(),
        radius: radius.unwrap_or_default(),
        params,
        user_agent: user_agent.map(str::to_owned),
    }
}
