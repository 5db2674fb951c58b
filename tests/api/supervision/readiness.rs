//! `/readyz` tells the truth about every actor: 503 while one restarts too often or does not
//! answer, 200 again once it is calm; an actor that keeps panicking stops the application
//! with an error (the process exits non-zero).

use std::time::{Duration, Instant};

use excursobot::actors::supervision::crash::Crash;

use super::{ACTORS, app_with, crash, llm_story, location_in_cell, readiness, readiness_until};

#[actix_web::test]
async fn readyz_names_every_actor_and_says_503_while_one_restarts_too_often() {
    let app = app_with(&[("ACTOR_RESTART_WINDOW_SECS", "2")]).await;
    let (status, body) = readiness(&app).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["database"], "reachable");
    for name in ACTORS {
        assert_eq!(body["actors"][name]["state"], "running", "{body}");
    }

    for _ in 0..6 {
        crash(&app, "cache", Crash::InHandler).await;
    }

    let (status, body) = readiness(&app).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["ready"], false);
    assert_eq!(body["actors"]["cache"]["state"], "failing", "{body}");
    assert_eq!(body["actors"]["cache"]["recent_restarts"], 6, "{body}");
    for name in ["db", "gate", "tours", "guide"] {
        assert_eq!(body["actors"][name]["state"], "running", "{body}");
    }
    // Still restarted each time: the next story is served.
    app.post_update(&location_in_cell(1, 14_601, 1)).await;
    llm_story(&app, 14_601).await;
    // Calm for a window: ready again.
    let (status, body) = readiness_until(&app, |status, _| status == 200).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["actors"]["cache"]["restarts"], 6, "{body}");
}

#[actix_web::test]
async fn readyz_says_503_while_an_actor_does_not_answer_and_names_it() {
    let app = app_with(&[]).await;
    let stall = Crash::Stall(Duration::from_secs(3));
    app.crash.crash("tours", stall).await.unwrap();

    let started = Instant::now();
    let (status, body) = readiness(&app).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["actors"]["tours"]["state"], "unresponsive", "{body}");
    for name in ["db", "cache", "gate", "guide"] {
        assert_eq!(body["actors"][name]["state"], "running", "{body}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "answered within the probe timeout"
    );
    let (status, body) = readiness_until(&app, |status, _| status == 200).await;
    assert_eq!(status, 200, "answers again: {body}");
}

#[actix_web::test]
async fn an_actor_that_keeps_panicking_past_its_limit_stops_the_application_with_an_error() {
    let mut app = app_with(&[("ACTOR_GIVE_UP_SECS", "1")]).await;
    let switch = app.crash.clone();
    // Over the limit from the 6th panic on, and still over a second later: give up.
    let crasher = tokio::spawn(async move {
        for _ in 0..200 {
            let _ = switch.crash("db", Crash::InHandler).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });

    let error = app.stopped().await.expect_err("the application fails");
    crasher.abort();
    let error = format!("{error:#}");
    assert!(
        error.contains("the db actor kept panicking past its restart limit"),
        "{error}"
    );
}
