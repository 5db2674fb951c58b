//! Durable memory (issue 4), on SQLite (a fresh file per test) and PostgreSQL (a fresh
//! database per test, when `TEST_DATABASE_URL` is set): migrations, preferences, no repeats
//! across restarts, /stats, /reset, the write-behind buffer at shutdown and through an outage.

use std::time::{Duration, Instant};

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, EntityTrait, PaginatorTrait};
use serde_json::Value;

use excursobot::db::entity::{fact_delivery, user};

use crate::helpers::{
    TestApp, button_update, fresh_postgres_url, fresh_sqlite_url, group_message, location_update,
    on_both_databases, spawn_app_with, tcp_proxy::TcpProxy, text_update,
};

const LAT: f64 = 59.9343;
const LON: f64 = 30.3351;

on_both_databases!(migrations_run_up_and_down);
on_both_databases!(a_delivery_written_again_after_a_lost_answer_is_one_row);
on_both_databases!(preferences_round_trip_through_the_buttons);
on_both_databases!(no_place_repeats_across_a_restart);
on_both_databases!(stats_for_an_admin_and_for_anyone_else);
on_both_databases!(shutdown_flushes_the_write_buffer);
on_both_databases!(reset_forgets_preferences_and_history);

#[actix_web::test]
async fn stats_in_a_group_are_never_posted_there_even_for_an_admin() {
    let app = spawn_app_with(&[("ADMIN_USER_IDS", "3301")]).await;

    app.post_update(&group_message(
        1,
        -1003301,
        3301,
        "/STATS@excursobot_test_bot",
    ))
    .await;
    app.post_update(&group_message(
        2,
        -1003301,
        3302,
        "/stats@Excursobot_Test_Bot",
    ))
    .await;

    let replies = app.telegram.wait_for_messages_to(-1003301, 2).await;
    assert_eq!(replies.len(), 2, "{replies:?}");
    for reply in &replies {
        let text = reply["text"].as_str().unwrap();
        assert_eq!(
            text, "I show statistics only in a private chat: send /stats to me there.",
            "{text}"
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let all = app.telegram.calls("sendMessage").await;
    assert!(
        all.iter().all(|m| !m["text"]
            .as_str()
            .unwrap_or_default()
            .contains("Bot statistics")),
        "{all:?}"
    );
}

async fn connect(url: &str) -> DatabaseConnection {
    Database::connect(url).await.expect("database answers")
}

async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(15);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn deliveries(url: &str) -> u64 {
    fact_delivery::Entity::find()
        .count(&connect(url).await)
        .await
        .unwrap()
}

/// The stories sent to `chat`, each with its `title`.
async fn venues(app: &TestApp, chat: i64) -> Vec<Value> {
    app.telegram.stories_to(chat).await
}

async fn wait_for_venue_count(app: &TestApp, chat: i64, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let sent = venues(app, chat).await;
        if sent.len() >= count || Instant::now() > deadline {
            return sent;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn migrations_run_up_and_down(url: String) {
    let db = connect(&url).await;

    Migrator::up(&db, None).await.unwrap();
    assert_eq!(user::Entity::find().count(&db).await.unwrap(), 0);
    assert_eq!(fact_delivery::Entity::find().count(&db).await.unwrap(), 0);

    Migrator::down(&db, None).await.unwrap();
    let gone = db
        .execute_unprepared("SELECT COUNT(*) FROM fact_deliveries")
        .await;
    assert!(gone.is_err(), "the table is dropped");

    Migrator::up(&db, None).await.unwrap();
    assert_eq!(
        Migrator::get_pending_migrations(&db).await.unwrap().len(),
        0
    );
}

/// A write the database committed but whose answer was lost (a connection cut mid-answer) is
/// retried from the buffer; the retry must not record the place a second time. Rows such
/// retries doubled before the unique index are removed by its migration.
async fn a_delivery_written_again_after_a_lost_answer_is_one_row(url: String) {
    use excursobot::db::queries::{Delivery, insert_deliveries};
    use sea_orm::ActiveValue::Set;
    let db = connect(&url).await;
    let once = Migrator::migrations()
        .into_iter()
        .position(|m| m.name() == "m20261201_000014_deliveries_once")
        .expect("the migration exists");
    Migrator::up(&db, Some(once as u32)).await.unwrap();
    let row = |place: &str, at: i64| Delivery {
        user_id: 3601,
        place_id: place.to_owned(),
        place_title: place.to_owned(),
        lat: LAT,
        lon: LON,
        source: "llm",
        latency_ms: 900,
        at,
    };
    // Written as the bot wrote them before (no conflict clause: there was no unique index).
    for place in ["Q1", "Q1", "Q2"] {
        let doubled = fact_delivery::ActiveModel {
            user_id: Set(3601),
            place_id: Set(place.to_owned()),
            place_title: Set(place.to_owned()),
            lat: Set(LAT),
            lon: Set(LON),
            source: Set("llm".to_owned()),
            latency_ms: Set(900),
            delivered_at: Set(1_000),
            ..Default::default()
        };
        fact_delivery::Entity::insert(doubled)
            .exec_without_returning(&db)
            .await
            .unwrap();
    }
    assert_eq!(fact_delivery::Entity::find().count(&db).await.unwrap(), 3);

    Migrator::up(&db, None).await.unwrap();
    assert_eq!(
        fact_delivery::Entity::find().count(&db).await.unwrap(),
        2,
        "the doubled row is gone, the other place at the same moment stays"
    );
    let retried = vec![row("Q1", 1_000), row("Q3", 2_000)];
    insert_deliveries(&db, retried.clone()).await.unwrap();
    insert_deliveries(&db, retried).await.unwrap();
    assert_eq!(fact_delivery::Entity::find().count(&db).await.unwrap(), 3);
}

async fn preferences_round_trip_through_the_buttons(url: String) {
    let app = spawn_app_with(&[("DATABASE_URL", &url)]).await;
    app.post_update(&text_update(1, 3001, "en", "/settings"))
        .await;
    let menu = app.telegram.wait_for_messages_to(3001, 1).await;
    assert!(
        menu[0]["text"]
            .as_str()
            .unwrap()
            .contains("Tour interval: 10 min")
    );
    let rows = menu[0]["reply_markup"]["inline_keyboard"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(rows, 4, "language, interval, radius, photos");

    for (id, data) in [
        (2, "set:int:30"),
        (3, "set:rad:3000"),
        (4, "set:pho:0"),
        (5, "set:lang:ru"),
    ] {
        app.post_update(&button_update(id, 3001, data)).await;
        app.telegram
            .wait_for("editMessageText", id as usize - 1)
            .await;
    }
    let edits = app.telegram.calls("editMessageText").await;
    let last = edits.last().unwrap()["text"].as_str().unwrap().to_owned();
    assert!(last.contains("Интервал прогулки: 30 мин"), "{last}");
    assert!(
        last.contains("Радиус поиска: 3 км") && last.contains("Фото: выкл"),
        "{last}"
    );

    let app = app.restart().await;
    app.post_update(&text_update(6, 3001, "en", "/settings"))
        .await;
    let after = app.telegram.wait_for_messages_to(3001, 2).await;
    let text = after[1]["text"].as_str().unwrap();
    assert!(
        text.starts_with("<b>Настройки</b>") || text.starts_with("Настройки"),
        "{text}"
    );
    assert!(
        text.contains("30 мин") && text.contains("3 км") && text.contains("выкл"),
        "{text}"
    );

    app.post_update(&location_update(7, 3001, "en", LAT, LON))
        .await;
    wait_for_venue_count(&app, 3001, 1).await;
    assert!(
        app.telegram.calls("sendPhoto").await.is_empty(),
        "photos are off"
    );
    let radius = &app.wikipedia.requests().await[0].radius;
    assert_eq!(radius, "3000");
}

async fn no_place_repeats_across_a_restart(url: String) {
    let app = spawn_app_with(&[("DATABASE_URL", &url)]).await;
    app.post_update(&location_update(1, 3101, "en", LAT, LON))
        .await;
    let first = wait_for_venue_count(&app, 3101, 1).await[0]["title"].clone();

    let app = app.restart().await;
    app.post_update(&location_update(2, 3101, "en", LAT, LON))
        .await;

    let told = wait_for_venue_count(&app, 3101, 2).await;
    assert_eq!(told.len(), 2);
    assert_ne!(
        told[1]["title"], first,
        "the same place was told again after a restart"
    );
}

async fn stats_for_an_admin_and_for_anyone_else(url: String) {
    let app = spawn_app_with(&[("DATABASE_URL", &url), ("ADMIN_USER_IDS", "3201")]).await;
    app.post_update(&text_update(1, 3201, "en", "/start")).await;
    app.post_update(&location_update(2, 3202, "en", LAT, LON))
        .await;
    wait_for_venue_count(&app, 3202, 1).await;
    wait_until("both users and the delivery are written", || async {
        let db = connect(&url).await;
        let users = user::Entity::find().count(&db).await.unwrap();
        users == 2 && deliveries(&url).await == 1
    })
    .await;

    app.post_update(&text_update(3, 3202, "en", "/stats")).await;
    app.post_update(&text_update(4, 3201, "en", "/stats")).await;

    let own = app.telegram.wait_for_text_to(3202, "<b>Your stats").await;
    let own = own
        .as_ref()
        .and_then(|m| m["text"].as_str())
        .expect("own stats");
    assert!(
        own.contains("Stories received: 1") && own.contains("Places: 1"),
        "{own}"
    );
    assert!(
        !own.contains("LLM"),
        "operational figures are for admins only: {own}"
    );
    let admin = app.telegram.wait_for_messages_to(3201, 2).await;
    let admin = admin[1]["text"].as_str().unwrap();
    assert!(admin.starts_with("<b>Bot statistics</b>"), "{admin}");
    assert!(
        admin.contains("Users: 2 total; 2 active, 2 new in 24 h"),
        "{admin}"
    );
    assert!(
        admin.contains("Stories in 24 h: 1 (cache 0, LLM 1, fallback 0)"),
        "{admin}"
    );
    assert!(
        admin.contains("LLM calls: 1") && admin.contains("permits in use 0 of 3"),
        "{admin}"
    );
    assert!(admin.contains("Live tours: 0 of 50"), "{admin}");
}

async fn shutdown_flushes_the_write_buffer(url: String) {
    let mut app = spawn_app_with(&[("DATABASE_URL", &url)]).await;
    app.post_update(&location_update(1, 3301, "en", LAT, LON))
        .await;
    wait_for_venue_count(&app, 3301, 1).await;

    app.begin_shutdown();
    app.stopped().await.unwrap();

    let db = connect(&url).await;
    assert_eq!(fact_delivery::Entity::find().count(&db).await.unwrap(), 1);
    let row = user::Entity::find_by_id(3301)
        .one(&db)
        .await
        .unwrap()
        .expect("user row");
    assert_eq!(row.language_code.as_deref(), Some("en"));
}

async fn reset_forgets_preferences_and_history(url: String) {
    let app = spawn_app_with(&[("DATABASE_URL", &url)]).await;
    app.post_update(&button_update(1, 3401, "set:int:60")).await;
    // The setting is saved before its button is answered; without waiting, its write could
    // land after the reset below (updates of one user are not yet handled in order).
    app.telegram.wait_for("answerCallbackQuery", 1).await;
    app.post_update(&location_update(2, 3401, "en", LAT, LON))
        .await;
    let first = wait_for_venue_count(&app, 3401, 1).await[0]["title"].clone();

    app.post_update(&text_update(3, 3401, "en", "/reset")).await;
    // The live-location hint after the first story may come before or after the question.
    let button = |message: &Value| message["reply_markup"]["inline_keyboard"][0][0].clone();
    let messages = crate::helpers::eventually(
        || app.telegram.messages_to(3401),
        |messages| {
            messages
                .iter()
                .any(|m| button(m)["callback_data"] == "reset:yes")
        },
    )
    .await;
    let question = messages
        .iter()
        .find(|m| button(m)["callback_data"] == "reset:yes");
    assert!(question.is_some(), "{messages:?}");
    app.post_update(&button_update(4, 3401, "reset:yes")).await;
    wait_until("the reset is confirmed", || async {
        let edits = app.telegram.calls("editMessageText").await;
        edits
            .iter()
            .any(|e| e["text"] == "Done: I forgot your settings and history.")
    })
    .await;

    app.post_update(&location_update(5, 3401, "en", LAT, LON))
        .await;
    let told = wait_for_venue_count(&app, 3401, 2).await;
    assert_eq!(
        told[1]["title"], first,
        "history was forgotten, so the nearest place is told again"
    );
    app.post_update(&text_update(6, 3401, "en", "/settings"))
        .await;
    wait_until("settings show the default interval", || async {
        let messages = app.telegram.messages_to(3401).await;
        messages.iter().any(|m| {
            m["text"]
                .as_str()
                .unwrap_or_default()
                .contains("Tour interval: 10 min")
        })
    })
    .await;
}

#[actix_web::test]
async fn the_database_unreachable_then_back_loses_no_delivery_row() {
    let Some(url) = fresh_postgres_url("the_database_unreachable_then_back").await else {
        return;
    };
    crate::helpers::logs::capture();
    let t0 = std::time::Instant::now();
    let proxy = TcpProxy::start(&url).await;
    let app = spawn_app_with(&[("DATABASE_URL", &proxy.url)]).await;
    app.post_update(&location_update(1, 3501, "en", LAT, LON))
        .await;
    wait_for_venue_count(&app, 3501, 1).await;

    proxy.cut();
    let mut waits = Vec::new();
    for (id, user) in [(2, 3502), (3, 3503)] {
        let posted = Instant::now();
        app.post_update(&location_update(
            id,
            user,
            "en",
            LAT + 0.01 * id as f64,
            LON,
        ))
        .await;
        assert_eq!(
            wait_for_venue_count(&app, user, 1).await.len(),
            1,
            "stories keep flowing"
        );
        waits.push(posted.elapsed());
    }
    // Once one query found the database unreachable the others fail at once: before, each
    // of the location's reads (preferences, told places, the hint) and its journal entry
    // waited out the pool's 3 s acquire timeout, 9-12 s a story.
    assert!(
        waits[1] < Duration::from_secs(4),
        "a story during the outage waited {:?}",
        waits[1]
    );
    assert_eq!(
        app.get("/readyz").await.status(),
        503,
        "not ready without a database"
    );
    assert_eq!(app.get("/healthz").await.status(), 200);

    proxy.restore();
    eprintln!("T {:?} restored", t0.elapsed());
    let _ = tokio::time::timeout(
        Duration::from_secs(15),
        wait_until("every delivery is written", || async {
            deliveries(&url).await == 3
        }),
    )
    .await;
    eprintln!("T {:?} deliveries {}", t0.elapsed(), deliveries(&url).await);
    for l in crate::helpers::logs::lines_containing("") {
        eprintln!("L {l}");
    }
    wait_until("ready again", || async {
        app.get("/readyz").await.status() == 200
    })
    .await;
    let users = user::Entity::find()
        .count(&connect(&url).await)
        .await
        .unwrap();
    assert_eq!(users, 3);
}

#[actix_web::test]
async fn the_migrate_command_applies_migrations_and_exits() {
    let url = fresh_sqlite_url();

    let status = std::process::Command::new(env!("CARGO_BIN_EXE_excursobot"))
        .arg("migrate")
        .env_clear()
        .env("TELEGRAM_BOT_TOKEN", "1:abc")
        .env("DATABASE_URL", &url)
        .status()
        .unwrap();

    assert!(status.success());
    let db = connect(&url).await;
    assert_eq!(
        Migrator::get_pending_migrations(&db).await.unwrap().len(),
        0
    );
}
