//! Writing a walker's next story ahead: a tick's patience before each tick (the tours actor's
//! [`WriteTourAhead`](crate::actors::live_sessions::WriteTourAhead)), the story of the
//! untold place the tick is about to tell is written at `Background` priority into the fact
//! cache (with `LLM_WRITE_AHEAD`; see
//! [`StoryWriter::write_ahead`](super::super::writer::StoryWriter::write_ahead)), so the tick
//! answers from the cache at once. The gate never gives such a call the last free permit,
//! sheds it first, and a tick asking for the same story joins it.
//!
//! Where the walker will be at the tick: the direction of their last step (from where the
//! previous story was told to where they are now), else Telegram's heading with a step of
//! [`ASSUMED_STEP_M`], followed for the share of that step still to walk before the tick; the
//! place is the nearest untold one to that point. With no direction at all, the nearest
//! untold place where the walker is. So close to the tick the guess is rarely wrong; written a
//! whole interval ahead (after the previous story), it missed most turns of the walk scenario.
//!
//! When it is wrong all the same (the walker's next fix came after the story was written,
//! too close to the tick to write the new nearest place's), the tick tells the place written
//! ahead ([`WrittenAhead`], [`reserve_tick_place`]) as long as its story is in the cache and
//! it is at most [`READY_WITHIN_M`] farther than the nearest untold place: a story at once
//! about a place a block away, not the walker waiting for the LLM for the nearest.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use super::super::{
    Depth, NoPlace, StoryRequest, StorySteps,
    told::{Reserved, choose_place},
    writer::Subject,
};
use crate::{
    actors::live_sessions::TourStoryRequest,
    geo::Coordinates,
    places::{Place, PlaceId},
    tour::JITTER_M,
};

/// How many places ahead are written: the next tick's (one, two... steps along the stride).
pub const PLACES_AHEAD: u32 = 1;
/// The step assumed between two stories when only Telegram's heading tells the direction.
pub const ASSUMED_STEP_M: f64 = 150.0;
/// A tick tells the place written ahead for it, its story ready, rather than the nearest
/// untold place, when it is at most this much farther from the walker: a block or so.
pub const READY_WITHIN_M: f64 = 200.0;
/// Places remembered as written ahead for one walker's coming tick (written again after new
/// fixes), the latest kept.
const REMEMBERED_AHEAD: usize = 4;

/// The places whose stories were written ahead for each walker's coming tick, until the tick
/// (or the tour's end) takes them. Only a hint: lost with the guide, the tick tells the
/// nearest untold place. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct WrittenAhead(Arc<Mutex<HashMap<u64, Vec<PlaceId>>>>);

impl WrittenAhead {
    /// Notes that `places` were written ahead for `user_id`'s coming tick.
    pub fn record(&self, user_id: u64, places: Vec<PlaceId>) {
        if places.is_empty() {
            return;
        }
        let mut all = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let noted = all.entry(user_id).or_default();
        for place in places {
            noted.retain(|id| id != &place);
            noted.push(place);
        }
        let surplus = noted.len().saturating_sub(REMEMBERED_AHEAD);
        noted.drain(..surplus);
    }

    /// The places written ahead for `user_id`'s tick, forgotten here.
    pub fn take(&self, user_id: u64) -> Vec<PlaceId> {
        let mut all = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        all.remove(&user_id).unwrap_or_default()
    }
}

/// The direction a walker is going and how far they go between two stories.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stride {
    /// Degrees clockwise from north.
    pub bearing_deg: f64,
    /// Metres between two stories.
    pub step_m: f64,
}

impl Stride {
    /// The walker's stride from their last step, else from Telegram's heading, `share` of it
    /// (what is left to walk before the tick); `None` when neither says where they are going.
    pub fn of(tour: &TourStoryRequest, share: f64) -> Option<Self> {
        let walked = tour.came_from.map(|from| Stride {
            bearing_deg: from.bearing_deg(&tour.point),
            step_m: from.distance_m(&tour.point),
        });
        let heading = tour.heading.map(|heading| Stride {
            bearing_deg: f64::from(heading),
            step_m: ASSUMED_STEP_M,
        });
        let stride = walked
            .filter(|stride| stride.step_m >= JITTER_M)
            .or(heading)?;
        Some(Stride {
            step_m: stride.step_m * share.clamp(0.0, 1.0),
            ..stride
        })
    }
}

/// The untold places a walker at `from` reaches next, in the order they would be told: the
/// nearest untold to each point one, two... steps along `stride` (the nearest to `from`
/// itself without a stride), each place once.
pub fn places_ahead(untold: &[Place], from: Coordinates, stride: Option<Stride>) -> Vec<Place> {
    let targets: Vec<Coordinates> = match stride {
        Some(Stride {
            bearing_deg,
            step_m,
        }) => (1..=PLACES_AHEAD)
            .map(|steps| from.moved(bearing_deg, step_m * f64::from(steps)))
            .collect(),
        None => vec![from],
    };
    let mut chosen: Vec<Place> = Vec::new();
    for target in targets {
        let fresh = |id: &_| chosen.iter().all(|place| &place.id != id);
        if let Some(place) = choose_place(untold, target, fresh) {
            chosen.push(place);
        }
    }
    chosen
}

/// Writes ahead the story of the place the walker of `tour` reaches by the tick, `share` of
/// their last step from now (see the module docs); nothing when writing ahead is off.
/// Returns the places whose stories are being written (or were written already).
pub async fn write_ahead(
    steps: &StorySteps,
    story: &StoryRequest,
    tour: &TourStoryRequest,
    share: f64,
) -> Vec<PlaceId> {
    let stride = Stride::of(tour, share);
    let ahead = |untold: &[Place]| places_ahead(untold, story.point, stride);
    steps.write_ahead_of(story, ahead).await
}

/// Reserves the place a tour's tick tells: of the places `written_ahead` for it, the nearest
/// still untold whose story is in the cache, when it is at most [`READY_WITHIN_M`] farther
/// than the nearest untold place; else the nearest untold place. `accept` has the last word
/// either way (a tick that tells only a place nearer than some distance).
pub async fn reserve_tick_place(
    steps: &StorySteps,
    story: &StoryRequest,
    written_ahead: &[PlaceId],
    accept: impl Fn(&Place) -> bool,
) -> Result<Option<Reserved>, NoPlace> {
    if !written_ahead.is_empty()
        && let Some(ready) = ready_place(steps, story, written_ahead).await
    {
        let reserved = steps
            .told
            .reserve_nearest(story.user_id, &[ready], story.point, &accept)
            .await;
        if let Ok(Some(reserved)) = reserved {
            tracing::debug!(user_id = story.user_id, place = %reserved.place.id, "tour tick: the place written ahead");
            return Ok(Some(reserved));
        }
    }
    steps.reserve_place(story, accept).await
}

/// The nearest of the untold places `written_ahead` whose story is cached and that is at most
/// [`READY_WITHIN_M`] farther than the nearest untold place.
async fn ready_place(
    steps: &StorySteps,
    story: &StoryRequest,
    written_ahead: &[PlaceId],
) -> Option<Place> {
    let (point, lang) = (story.point, story.lang);
    let places = steps.finder.near(point, lang, story.radius_m).await.ok()?;
    let untold = steps.told.untold(story.user_id, &places).await.ok()?;
    let mut ready = Vec::new();
    for place in untold
        .iter()
        .filter(|place| written_ahead.contains(&place.id))
    {
        let subject = Subject {
            place,
            from: point,
            lang,
            depth: Depth::First,
        };
        if steps.writer.is_written(subject).await {
            ready.push(place.id.clone());
        }
    }
    let nearest = choose_place(&untold, point, |_| true)?;
    let place = choose_place(&untold, point, |id| ready.contains(id))?;
    (place.distance_m <= nearest.distance_m + READY_WITHIN_M).then_some(place)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::places::PlaceId;

    fn at(north_m: f64, east_m: f64) -> Coordinates {
        Coordinates::new(55.0, 37.0)
            .unwrap()
            .moved(0.0, north_m)
            .moved(90.0, east_m)
    }

    fn place(id: &str, coordinates: Coordinates) -> Place {
        Place {
            id: PlaceId(id.to_owned()),
            title: id.to_owned(),
            coordinates,
            distance_m: 0.0,
            summary: "A place.".to_owned(),
            image_url: None,
            source_url: String::new(),
            lang: "en".to_owned(),
        }
    }

    #[test]
    fn the_place_ahead_is_the_one_the_next_step_reaches_not_the_nearest() {
        let untold = [
            place("behind", at(-60.0, 0.0)),
            place("left", at(0.0, -70.0)),
            place("one-step", at(210.0, 20.0)),
            place("two-steps", at(390.0, -10.0)),
        ];
        let north = Stride {
            bearing_deg: 0.0,
            step_m: 200.0,
        };

        let ahead = places_ahead(&untold, at(0.0, 0.0), Some(north));

        let ids: Vec<&str> = ahead.iter().map(|p| p.id.0.as_str()).collect();
        assert_eq!(ids, ["one-step"]);
        let nearest = places_ahead(&untold, at(0.0, 0.0), None);
        assert_eq!(nearest.len(), 1);
        assert_eq!(nearest[0].id.0, "behind");
    }

    #[test]
    fn a_place_is_written_ahead_once_even_when_every_step_reaches_it() {
        let untold = [place("only", at(500.0, 0.0))];
        let stride = Stride {
            bearing_deg: 0.0,
            step_m: 100.0,
        };

        let ahead = places_ahead(&untold, at(0.0, 0.0), Some(stride));

        assert_eq!(ahead.len(), 1);
    }
}
