//! Hostile updates: bodies a stranger holding the secret (or a buggy client) could send, and
//! updates that parse but ask for what no honest client would. Each gets a clear answer in
//! the user's language, or is ignored with a log line; nothing crashes.

use std::{collections::BTreeMap, time::Instant};

use excursobot::{
    cache::SeenUpdates,
    handlers::triage::{Triage, triage},
    simulate::mutate::Mutator,
};
use serde_json::{Value, json};

use crate::helpers::{SECRET, logs, sample, sample_paths, spawn_app, text_update};

/// Hostile bodies the property test sends when `HOSTILE_BODIES` does not say.
const HOSTILE_BODIES: usize = 5_000;

/// The reaction sample with its actor (`user`) replaced by `actor` (removed when `None`).
fn reaction_with_actor(update_id: u64, actor: Option<Value>) -> Value {
    let mut update = sample("24_message_reaction_teloxide.json");
    update["update_id"] = json!(update_id);
    let reaction = update["message_reaction"].as_object_mut().unwrap();
    reaction.remove("user");
    if let Some(actor) = actor {
        reaction.insert("user".into(), actor);
    }
    update
}

#[actix_web::test]
async fn a_reaction_without_an_actor_gets_200_and_one_warning_and_the_bot_goes_on() {
    logs::capture();
    let app = spawn_app().await;

    for (update_id, actor) in [(731_001, None), (731_002, Some(Value::Null))] {
        let body = reaction_with_actor(update_id, actor)
            .to_string()
            .into_bytes();
        let response = app.post_raw(body, Some(SECRET)).await;
        assert_eq!(response.status(), 200, "update {update_id}");
        let lines = logs::lines_containing(&format!("update_id={update_id}"));
        assert_eq!(lines.len(), 1, "one warning for {update_id}: {lines:?}");
        assert!(lines[0].contains("WARN"), "{lines:?}");
    }

    app.post_update(&text_update(731_003, 731, "en", "/start"))
        .await;
    assert_eq!(app.telegram.wait_for_messages_to(731, 1).await.len(), 1);
}

/// Every sample update in `tests/fixtures/telegram_updates` that is JSON.
fn json_samples() -> Vec<Value> {
    sample_paths()
        .iter()
        .filter_map(|path| serde_json::from_slice(&std::fs::read(path).unwrap()).ok())
        .filter(Value::is_object)
        .collect()
}

/// The property behind the fuzz target (`fuzz/`), short enough for every `cargo test`:
/// mutants of every sample (`simulate::mutate`) through the webhook path up to the lane;
/// none may panic. `HOSTILE_BODIES=1000000` runs a million.
#[tokio::test]
async fn mutants_of_every_sample_never_panic_the_webhook_path() {
    // The bot's warnings about unreadable bodies would be thousands of lines.
    let _quiet = tracing::subscriber::set_default(tracing::subscriber::NoSubscriber::default());
    let samples = json_samples();
    let count = std::env::var("HOSTILE_BODIES")
        .ok()
        .and_then(|count| count.parse().ok())
        .unwrap_or(HOSTILE_BODIES);
    let (seen, mut mutator) = (SeenUpdates::new(None), Mutator::new(0x5eed));
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    let started = Instant::now();

    for n in 0..count {
        let mut update = samples[n % samples.len()].clone();
        update["update_id"] = json!(n);
        let outcome = match triage(&mutator.mutant(&update), &seen).await {
            Triage::Unusable => "unusable",
            Triage::Duplicate => "duplicate",
            Triage::Lane { key: Some(_), .. } => "lane",
            Triage::Lane { key: None, .. } => "outside the lanes",
        };
        *outcomes.entry(outcome).or_default() += 1;
    }

    eprintln!(
        "{count} hostile bodies in {:.1} s: {outcomes:?}",
        started.elapsed().as_secs_f64()
    );
    assert!(samples.len() >= 30, "samples are missing");
    for outcome in ["unusable", "duplicate", "lane", "outside the lanes"] {
        assert!(
            outcomes.contains_key(outcome),
            "no body was {outcome}: {outcomes:?}"
        );
    }
}
