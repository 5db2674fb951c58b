//! The webhook handler's rules: secret, size, odd bodies, duplicates, back-pressure.

use std::time::{Duration, Instant};

use excursobot::handlers::webhook::SECRET_HEADER;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::helpers::mock_telegram::{ok, sent_message};
use crate::helpers::{
    SECRET, TestApp, logs, sample, sample_paths, spawn_app, spawn_app_with, text_update,
};

#[actix_web::test]
async fn a_missing_or_wrong_secret_gets_401_and_nothing_is_processed() {
    let app = spawn_app().await;
    let body = text_update(1, 601, "en", "/start").to_string().into_bytes();

    let missing = app.post_raw(body.clone(), None).await;
    let wrong = app.post_raw(body.clone(), Some("not-the-secret")).await;
    let longer = app.post_raw(body, Some(&format!("{SECRET}x"))).await;

    for response in [missing, wrong, longer] {
        assert_eq!(response.status(), 401);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(app.telegram.messages_to(601).await.is_empty());
}

#[actix_web::test]
async fn every_sample_update_gets_200_and_the_app_stays_up() {
    let app = spawn_app().await;
    let names = sample_paths();
    assert!(names.len() >= 30, "fixtures are missing");

    for path in &names {
        let body = std::fs::read(path).unwrap();
        let response = app.post_raw(body, Some(SECRET)).await;
        assert_eq!(response.status(), 200, "{}", path.display());
    }

    assert_eq!(app.get("/healthz").await.status(), 200);
    app.post_update(&text_update(999_999, 602, "en", "/start"))
        .await;
    assert_eq!(app.telegram.wait_for_messages_to(602, 1).await.len(), 1);
}

#[actix_web::test]
async fn a_body_over_one_mebibyte_gets_413() {
    let app = spawn_app().await;

    let response = app
        .post_raw(vec![b' '; 1024 * 1024 + 1], Some(SECRET))
        .await;

    assert_eq!(response.status(), 413);
}

#[actix_web::test]
async fn a_redelivered_update_id_gets_one_reply() {
    let app = spawn_app().await;
    let update = text_update(42, 603, "en", "/help");

    for _ in 0..3 {
        assert_eq!(app.post_update(&update).await.status(), 200);
    }

    app.telegram.wait_for_messages_to(603, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.telegram.messages_to(603).await.len(), 1);
}

#[actix_web::test]
async fn a_full_backlog_answers_503_and_the_retried_update_is_not_lost() {
    let app = spawn_app_with(&[("UPDATE_BACKLOG_MAX", "1")]).await;
    let slow = ok(sent_message()).set_delay(Duration::from_millis(700));
    app.telegram.answer_next("sendMessage", slow, 1).await;
    let first = text_update(1, 604, "en", "/start");
    let second = text_update(2, 605, "en", "/start");

    assert_eq!(app.post_update(&first).await.status(), 200);
    let refused = app.post_update(&second).await;
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().contains_key("retry-after"));

    // Telegram retries the refused update later, as it does after a 503.
    let mut retries = 0;
    while app.post_update(&second).await.status() == 503 {
        retries += 1;
        assert!(retries < 50, "the backlog never freed up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.telegram.wait_for_messages_to(605, 1).await.len(), 1);
    assert_eq!(app.telegram.messages_to(604).await.len(), 1);
}

#[actix_web::test]
async fn health_and_readiness_answer() {
    let app = spawn_app().await;

    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.get("/readyz").await.status(), 200);
}

#[actix_web::test]
async fn the_real_start_sample_is_answered_after_an_unparsable_one() {
    let app = spawn_app().await;

    let broken = sample_bytes("91_MALFORMED_truncated_DERIVED.json.txt");
    assert_eq!(app.post_raw(broken, Some(SECRET)).await.status(), 200);
    app.post_update(&sample("01_start_command_private.json"))
        .await;

    assert_eq!(
        app.telegram.wait_for_messages_to(1443186301, 1).await.len(),
        1
    );
}

fn sample_bytes(name: &str) -> Vec<u8> {
    crate::helpers::sample_text(name).into_bytes()
}

/// A logging app and a raw connection to it, with the connection's local address (what its
/// log lines name).
async fn logged_app_and_connection() -> (TestApp, TcpStream, String) {
    logs::capture();
    let app = spawn_app().await;
    let stream = TcpStream::connect(app.socket_address()).await.unwrap();
    let local = stream.local_addr().unwrap().to_string();
    (app, stream, local)
}

/// One webhook call with `secret` and no body on a kept-alive connection (a refused body
/// is never read, so actix would close the connection after it); the status it got.
async fn post_on(stream: &mut TcpStream, secret: &str) -> u16 {
    let request = format!(
        "POST /webhook HTTP/1.1\r\nHost: bot\r\n{SECRET_HEADER}: {secret}\r\nContent-Length: 0\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0; 1];
        assert_eq!(
            stream.read(&mut byte).await.unwrap(),
            1,
            "connection closed"
        );
        head.push(byte[0]);
    }
    status_of(&head)
}

/// The status code of an HTTP response head.
fn status_of(head: &[u8]) -> u16 {
    let head = String::from_utf8_lossy(head);
    let status = head.split_whitespace().nth(1).unwrap_or_default();
    status
        .parse()
        .unwrap_or_else(|_| panic!("not a response: {head:?}"))
}

/// The number in `field=N` of a log line.
fn count_in(line: &str, field: &str) -> u64 {
    let (_, rest) = line.split_once(&format!("{field}=")).unwrap();
    rest.split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[actix_web::test]
async fn wrong_secrets_are_warned_about_once_a_second_with_their_count() {
    let (_app, mut stream, this_connection) = logged_app_and_connection().await;

    let started = Instant::now();
    for _ in 0..200 {
        assert_eq!(post_on(&mut stream, "not-the-secret").await, 401);
    }
    let flood_secs = started.elapsed().as_secs();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(post_on(&mut stream, "").await, 401);

    let lines = logs::lines_containing(&this_connection);
    assert!(
        (2..=2 + flood_secs as usize).contains(&lines.len()),
        "{} lines for 201 refusals: {lines:?}",
        lines.len()
    );
    assert!(
        lines
            .iter()
            .all(|line| line.contains("missing or wrong secret"))
    );
    assert_eq!(
        lines
            .iter()
            .map(|line| count_in(line, "refused"))
            .sum::<u64>(),
        201
    );
}

#[actix_web::test]
async fn malformed_http_gets_a_4xx_and_no_error_line() {
    // The capture sees what the app's HTTP workers log: a refusal on this connection shows.
    let (app, mut control, control_address) = logged_app_and_connection().await;
    assert_eq!(post_on(&mut control, "not-the-secret").await, 401);

    let long_uri = format!("GET /{} HTTP/1.1\r\nHost: bot\r\n\r\n", "a".repeat(70_000));
    let malformed: [&[u8]; 3] = [
        b"POST /webhook HTTP/1.1\r\nHost: bot\r\nBad\x01Header: x\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: bot\r\nContent-Length: nine\r\n\r\n",
        long_uri.as_bytes(),
    ];
    for request in malformed {
        let mut stream = TcpStream::connect(app.socket_address()).await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        let status = status_of(&answer);
        assert!((400..500).contains(&status), "{status}");
    }

    assert_eq!(logs::lines_containing(&control_address).len(), 1);
    let errors: Vec<_> = logs::lines_containing("actix_http")
        .into_iter()
        .filter(|line| line.contains("ERROR"))
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
}

/// The status of the answer to a webhook call with `secret` announcing a body of `length`
/// bytes and sending none of it; `None` when no answer comes within 3 s.
async fn answer_before_the_body(secret: &str, length: usize) -> Option<u16> {
    let (_app, mut stream, _) = logged_app_and_connection().await;
    let head = format!(
        "POST /webhook HTTP/1.1\r\nHost: bot\r\n{SECRET_HEADER}: {secret}\r\nContent-Length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = [0; 12];
    let read = tokio::time::timeout(Duration::from_secs(3), stream.read_exact(&mut answer)).await;
    read.ok().map(|_| status_of(&answer))
}

#[actix_web::test]
async fn a_stranger_is_refused_before_the_body_is_read() {
    assert_eq!(
        answer_before_the_body("not-the-secret", 1_000_000).await,
        Some(401)
    );
}

#[actix_web::test]
async fn a_body_announced_over_one_mebibyte_gets_413_before_it_is_sent() {
    assert_eq!(answer_before_the_body(SECRET, 2_000_000).await, Some(413));
}
