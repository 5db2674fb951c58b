//! Fault suite, "a panic in each actor": users keep sending locations while each actor in
//! turn panics in each way it can, and a walker's tour runs throughout. Every acknowledged
//! location gets exactly one answer, no user is told a place twice, no delivery row is written
//! twice (or lost), and the tour ends with exactly one summary.

use std::{
    collections::{HashMap, HashSet},
    time::{Duration, Instant},
};

use futures::future::join_all;
use sea_orm::{Database, EntityTrait};

use excursobot::db::entity::fact_delivery;

use super::{ACTORS, KINDS, app_with, live_location, location_in_cell};
use crate::helpers::{TestApp, text_update};

const USERS: [i64; 4] = [14_801, 14_802, 14_803, 14_804];
const WALKER: i64 = 14_890;

/// Waits (up to 20 s) until every user got `count` stories; returns what each got.
async fn stories_reach(app: &TestApp, count: usize) -> HashMap<i64, usize> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut got = HashMap::new();
        for user in USERS {
            got.insert(user, app.telegram.stories_to(user).await.len());
        }
        if got.values().all(|&n| n >= count) || Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn a_panic_in_each_actor_loses_no_answer_repeats_no_place_and_writes_no_row_twice() {
    let app = app_with(&[]).await;
    app.post_update(&live_location(1, WALKER)).await;
    app.telegram.wait_for_stories(WALKER, 1).await;
    let mut update_id = 100;
    let mut asked = 0;
    for (round, actor) in (0..).zip(ACTORS) {
        for (k, kind) in (0..).zip(KINDS) {
            // Two locations per user in each cell: the second must find another place.
            let cell = round * 2 + k / 2;
            let updates = USERS.map(|user| {
                update_id += 1;
                location_in_cell(update_id, user, cell)
            });
            let posts = updates.iter().map(|update| app.post_update(update));
            let (acks, _) = tokio::join!(join_all(posts), app.crash.crash(actor, kind));
            assert!(
                acks.iter().all(|ack| ack.status() == 200),
                "{actor} {kind:?}"
            );
            asked += 1;
            let got = stories_reach(&app, asked).await;
            assert!(
                got.values().all(|&n| n == asked),
                "{actor} {kind:?}: {got:?}"
            );
        }
    }

    tokio::time::sleep(Duration::from_millis(500)).await;
    for user in USERS {
        assert_eq!(
            app.telegram.stories_to(user).await.len(),
            asked,
            "no late second answer"
        );
    }
    let db = Database::connect(app.vars["DATABASE_URL"].as_str())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let rows = loop {
        let rows = fact_delivery::Entity::find().all(&db).await.unwrap();
        let one_offs = rows.iter().filter(|row| row.user_id != WALKER).count();
        if one_offs >= USERS.len() * asked || Instant::now() > deadline {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for user in USERS {
        let mine: Vec<_> = rows.iter().filter(|row| row.user_id == user).collect();
        assert_eq!(mine.len(), asked, "one row per story for {user}");
        let places: HashSet<_> = mine.iter().map(|row| &row.place_id).collect();
        assert_eq!(places.len(), asked, "no place told twice to {user}");
    }

    app.post_update(&text_update(999, WALKER, "en", "/stop"))
        .await;
    assert!(app.telegram.wait_for_text_to(WALKER, "🏁").await.is_some());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let summaries = app.telegram.messages_to(WALKER).await;
    let summaries = summaries
        .iter()
        .filter(|m| m["text"].as_str().is_some_and(|t| t.starts_with("🏁")))
        .count();
    assert_eq!(summaries, 1);
    let tour_stories = app.telegram.stories_to(WALKER).await;
    assert_eq!(tour_stories.len(), 1, "{tour_stories:?}");
}
