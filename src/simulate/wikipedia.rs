//! The simulated Wikipedia: `GET /{lang}/w/api.php` answers the bot's one place query
//! (`generator=geosearch` with coordinates, page images, intro extracts and URLs,
//! `formatversion=2`) from the simulated city's landmarks, shaped like the real API's answer:
//! pages in page-id order with the generator's rank in `index`, the distance in
//! `coordinates[0].dist`, and no `query` key when nothing is near.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use actix_web::{App, HttpResponse, HttpServer, dev::ServerHandle, web};
use serde_json::{Value, json};

use super::{city, local_listener};
use crate::geo::Coordinates;

/// The generator's default and largest `ggslimit` the bot asks for.
const MAX_LIMIT: usize = 20;

/// A running simulated Wikipedia.
pub struct SimWikipedia {
    port: u16,
    handle: ServerHandle,
    requests: Arc<AtomicU64>,
}

impl SimWikipedia {
    /// Starts the server on 127.0.0.1 (one worker thread).
    pub fn start() -> anyhow::Result<Self> {
        let (listener, port) = local_listener()?;
        let requests = Arc::new(AtomicU64::new(0));
        let counter = web::Data::from(Arc::clone(&requests));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(counter.clone())
                .route("/{lang}/w/api.php", web::get().to(geosearch))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)?
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Ok(Self {
            port,
            handle,
            requests,
        })
    }

    /// The `WIKIPEDIA_API_URL` template pointing here.
    pub fn api_url_template(&self) -> String {
        format!("http://127.0.0.1:{}/{{lang}}/w/api.php", self.port)
    }

    /// Geosearch requests answered so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Stops the server.
    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

async fn geosearch(
    lang: web::Path<String>,
    query: web::Query<Vec<(String, String)>>,
    requests: web::Data<AtomicU64>,
) -> HttpResponse {
    requests.fetch_add(1, Ordering::Relaxed);
    let param = |name: &str| {
        query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    let point = param("ggscoord").and_then(parse_point);
    let radius = param("ggsradius").and_then(|r| r.parse::<f64>().ok());
    let (Some(point), Some(radius)) = (point, radius) else {
        return HttpResponse::Ok().json(json!({
            "error": { "code": "invalidparammix", "info": "ggscoord and ggsradius are required" }
        }));
    };
    let limit = param("ggslimit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(10)
        .clamp(1, MAX_LIMIT);
    HttpResponse::Ok().json(answer(point, radius, limit, &lang))
}

fn parse_point(raw: &str) -> Option<Coordinates> {
    let (lat, lon) = raw.split_once('|')?;
    Coordinates::new(lat.parse().ok()?, lon.parse().ok()?)
}

/// The fv2 answer for landmarks within `radius` of `point`.
fn answer(point: Coordinates, radius: f64, limit: usize, lang: &str) -> Value {
    let near = city::landmarks_near(point, radius, limit, lang);
    if near.is_empty() {
        return json!({ "batchcomplete": true });
    }
    let mut pages: Vec<(u64, Value)> = near
        .iter()
        .enumerate()
        .map(|(rank, (landmark, distance))| (landmark.page_id, page(landmark, *distance, rank)))
        .collect();
    pages.sort_by_key(|(page_id, _)| *page_id);
    let pages: Vec<Value> = pages.into_iter().map(|(_, page)| page).collect();
    json!({ "batchcomplete": true, "query": { "pages": pages } })
}

fn page(landmark: &city::Landmark, distance: f64, rank: usize) -> Value {
    let slug = landmark.title.replace(' ', "_");
    let mut page = json!({
        "pageid": landmark.page_id, "ns": 0, "title": landmark.title, "index": rank,
        "coordinates": [{
            "lat": landmark.at.lat, "lon": landmark.at.lon, "primary": true, "globe": "earth",
            "dist": (distance * 10.0).round() / 10.0
        }],
        "extract": landmark.extract,
        "contentmodel": "wikitext",
        "fullurl": format!("https://wikipedia.example/wiki/{slug}"),
        "canonicalurl": format!("https://wikipedia.example/wiki/{slug}"),
    });
    if let Some(image) = &landmark.image {
        page["thumbnail"] = json!({ "source": image, "width": 500, "height": 375 });
    }
    page
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_lists_the_nearest_pages_in_page_id_order() {
        let answer = answer(city::landmark_point(5, 5), 1000.0, 20, "en");
        let pages = answer["query"]["pages"].as_array().unwrap();
        assert_eq!(pages.len(), 20);
        let ids: Vec<u64> = pages
            .iter()
            .map(|p| p["pageid"].as_u64().unwrap())
            .collect();
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
        let nearest = pages.iter().find(|p| p["index"] == 0).unwrap();
        assert_eq!(nearest["title"], "Chapel, block 5-5");
    }

    #[test]
    fn far_from_the_city_there_is_no_query_key() {
        let far = Coordinates::new(10.0, 10.0).unwrap();
        assert_eq!(
            answer(far, 10_000.0, 20, "en"),
            json!({ "batchcomplete": true })
        );
    }
}
