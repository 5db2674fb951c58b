//! Donations in Telegram Stars against the mock Telegram, on SQLite and PostgreSQL: the
//! invoice, the pre-checkout (and what it refuses), the payment credited and thanked once,
//! refunds, `/paysupport`.

use sea_orm::{Database, EntityTrait};
use serde_json::{Value, json};
use wiremock::ResponseTemplate;

use excursobot::db::entity::donation;

use crate::helpers::{
    TestApp, button_update, eventually, on_both_databases, spawn_app, spawn_app_with, text_update,
};

on_both_databases!(a_donation_is_invoiced_checked_credited_and_thanked_once);
on_both_databases!(refunds_are_marked_and_an_already_refunded_charge_counts_as_done);

const ADMIN: i64 = 5101;

/// A pre-checkout query from `user` for `payload` and `total` stars.
fn pre_checkout(update_id: u64, user: i64, payload: &str, total: u32) -> Value {
    json!({
        "update_id": update_id,
        "pre_checkout_query": {
            "id": format!("pcq-{update_id}"),
            "from": { "id": user, "is_bot": false, "first_name": "Donor", "language_code": "en" },
            "currency": "XTR",
            "total_amount": total,
            "invoice_payload": payload
        }
    })
}

/// The service message of a payment `charge` of `total` stars by `user`.
fn payment(update_id: u64, user: i64, charge: &str, total: u32, payload: &str) -> Value {
    crate::helpers::payment_update(update_id, user, charge, total, payload)
}

/// Asks for an invoice of `stars` as `user`; returns the `sendInvoice` body.
async fn invoice(app: &TestApp, update_id: u64, user: i64, stars: u32) -> Value {
    let before = app.telegram.calls_to("sendInvoice", user).await.len();
    app.post_update(&button_update(update_id, user, &format!("donate:{stars}")))
        .await;
    let invoices = app
        .telegram
        .wait_for_calls_to("sendInvoice", user, before + 1)
        .await;
    invoices.last().cloned().unwrap()
}

/// The answers to pre-checkout queries so far.
async fn checkouts(app: &TestApp, count: usize) -> Vec<Value> {
    app.telegram.wait_for("answerPreCheckoutQuery", count).await
}

async fn donations(url: &str) -> Vec<donation::Model> {
    let db = Database::connect(url).await.unwrap();
    donation::Entity::find().all(&db).await.unwrap()
}

async fn a_donation_is_invoiced_checked_credited_and_thanked_once(url: String) {
    let admin = ADMIN.to_string();
    let app = spawn_app_with(&[("DATABASE_URL", &url), ("ADMIN_USER_IDS", &admin)]).await;
    let user = 5102;
    app.post_update(&text_update(1, user, "en", "/donate"))
        .await;
    let offer = &app.telegram.wait_for_messages_to(user, 1).await[0];
    let amounts: Vec<&str> = offer["reply_markup"]["inline_keyboard"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|button| button["callback_data"].as_str().unwrap())
        .collect();
    assert_eq!(
        amounts,
        [
            "donate:50",
            "donate:100",
            "donate:250",
            "donate:500",
            "donate:1000"
        ]
    );

    let sent = invoice(&app, 2, user, 100).await;
    assert_eq!(sent["currency"], "XTR");
    assert_eq!(sent["provider_token"], "");
    assert_eq!(
        sent["prices"],
        json!([{ "label": "Support", "amount": 100 }])
    );
    let payload = sent["payload"].as_str().unwrap().to_owned();
    assert!(payload.len() <= 128, "{payload}");

    app.post_update(&pre_checkout(3, user, &payload, 100)).await;
    let answer = &checkouts(&app, 1).await[0];
    assert_eq!(answer["ok"], true, "{answer}");

    let paid = payment(4, user, "stx-charge-1", 100, &payload);
    app.post_update(&paid).await;
    // Telegram delivers the same payment again (a new update id, the same charge).
    let mut again = paid.clone();
    again["update_id"] = json!(5);
    app.post_update(&again).await;

    let thanked = eventually(
        || app.telegram.messages_to(user),
        |messages| messages.iter().any(|m| starts(m, "Thank you for 100 ⭐")),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let thanks = app.telegram.messages_to(user).await;
    let thanks = thanks.iter().filter(|m| starts(m, "Thank you")).count();
    assert_eq!(thanks, 1, "{thanked:?}");
    let rows = donations(&url).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((rows[0].user_id, rows[0].stars), (user, 100));
    assert!(rows[0].thanked_at.is_some());

    app.post_update(&text_update(6, user, "en", "/stats")).await;
    app.post_update(&text_update(7, ADMIN, "en", "/stats"))
        .await;
    let own = eventually(
        || app.telegram.messages_to(user),
        |messages| messages.iter().any(|m| starts(m, "<b>Your stats</b>")),
    )
    .await;
    let own = own.iter().find(|m| starts(m, "<b>Your stats</b>")).unwrap();
    assert!(text(own).contains("Stars given: 100 ⭐"), "{own}");
    let admin = app.telegram.wait_for_messages_to(ADMIN, 1).await;
    assert!(
        text(&admin[0]).contains("Donations: 1 (0 refunded); 100 ⭐ in 24 h, 100 ⭐ in total"),
        "{}",
        admin[0]
    );
}

fn text(message: &Value) -> &str {
    message["text"].as_str().unwrap_or_default()
}

fn starts(message: &Value, prefix: &str) -> bool {
    text(message).starts_with(prefix)
}

#[actix_web::test]
async fn a_tampered_foreign_or_unoffered_checkout_is_refused_in_the_users_language() {
    let app = spawn_app().await;
    let payload = invoice(&app, 1, 5201, 50).await["payload"]
        .as_str()
        .unwrap()
        .to_owned();
    let tampered = payload.replacen(".50.", ".500.", 1);
    let mut ru = pre_checkout(4, 5203, &payload, 50);
    ru["pre_checkout_query"]["from"]["language_code"] = json!("ru");

    app.post_update(&pre_checkout(2, 5201, &tampered, 500))
        .await;
    app.post_update(&pre_checkout(3, 5201, &payload, 60)).await;
    app.post_update(&ru).await;
    app.post_update(&pre_checkout(5, 5201, "donation:50", 50))
        .await;

    let answers = checkouts(&app, 4).await;
    let reason = |id: &str| {
        let answer = answers
            .iter()
            .find(|a| a["pre_checkout_query_id"] == id)
            .unwrap();
        assert_eq!(answer["ok"], false, "{answer}");
        answer["error_message"].as_str().unwrap().to_owned()
    };
    assert!(reason("pcq-2").contains("not valid"), "tampered");
    assert!(reason("pcq-3").contains("not offered"), "another amount");
    assert!(
        reason("pcq-4").contains("не вам"),
        "another user, in Russian"
    );
    assert!(reason("pcq-5").contains("not valid"), "not ours");
}

async fn refunds_are_marked_and_an_already_refunded_charge_counts_as_done(url: String) {
    let admin = ADMIN.to_string();
    let app = spawn_app_with(&[("DATABASE_URL", &url), ("ADMIN_USER_IDS", &admin)]).await;
    let user = 5301;
    for (id, charge) in [(1, "stx-a"), (2, "stx-b")] {
        app.post_update(&payment(id, user, charge, 250, "d1.x"))
            .await;
    }
    eventually(|| donations(&url), |rows| rows.len() == 2).await;
    let already = ResponseTemplate::new(400).set_body_json(json!({
        "ok": false, "error_code": 400,
        "description": "Bad Request: CHARGE_ALREADY_REFUNDED"
    }));

    app.post_update(&text_update(3, ADMIN, "en", "/refund stx-a"))
        .await;
    app.telegram.wait_for("refundStarPayment", 1).await;
    app.telegram
        .answer_next("refundStarPayment", already, 1)
        .await;
    app.post_update(&text_update(4, ADMIN, "en", "/refund stx-b"))
        .await;
    app.post_update(&text_update(5, ADMIN, "en", "/refund stx-none"))
        .await;
    app.post_update(&text_update(6, user, "en", "/refund stx-a"))
        .await;

    let replies = app.telegram.wait_for_messages_to(ADMIN, 3).await;
    let replies: Vec<&str> = replies.iter().map(text).collect();
    assert_eq!(
        replies,
        [
            "Refunded 250 ⭐ to user 5301.",
            "This payment was refunded before.",
            "I know no payment with this id."
        ]
    );
    let refund = &app.telegram.calls("refundStarPayment").await[0];
    assert_eq!(refund["user_id"], user);
    assert_eq!(refund["telegram_payment_charge_id"], "stx-a");
    let rows = donations(&url).await;
    assert!(rows.iter().all(|row| row.refunded_at.is_some()), "{rows:?}");
    let denied = eventually(
        || app.telegram.messages_to(user),
        |messages| messages.iter().any(|m| starts(m, "This command is for")),
    )
    .await;
    assert!(denied.iter().any(|m| starts(m, "This command is for")));
    assert_eq!(app.telegram.calls("refundStarPayment").await.len(), 2);
}

#[actix_web::test]
async fn paysupport_says_how_to_get_help_in_the_users_language() {
    let app = spawn_app().await;

    app.post_update(&text_update(1, 5401, "ru", "/paysupport"))
        .await;
    app.post_update(&text_update(2, 5402, "en", "/help")).await;

    let help = app.telegram.wait_for_messages_to(5401, 1).await;
    assert!(
        text(&help[0]).starts_with("Вопросы об оплате?"),
        "{}",
        help[0]
    );
    let guide = app.telegram.wait_for_messages_to(5402, 1).await;
    let button = &guide[0]["reply_markup"]["inline_keyboard"][0][0];
    assert_eq!(button["callback_data"], "donate");
    assert_eq!(button["text"], "⭐ Support");
}

/// Sends every payments request the bot makes to a spec-driven mock of the Bot API (Prism
/// over `../shared/reference/telegram-bot-api-openapi.prism.yml`, at `PRISM_URL`), which
/// refuses a request its schema does not allow. Run by hand (see the README); skipped when
/// `PRISM_URL` is unset.
#[actix_web::test]
#[ignore = "needs a Prism mock of the Bot API at PRISM_URL"]
async fn payments_requests_pass_the_bot_api_spec() {
    let Ok(prism) = std::env::var("PRISM_URL") else {
        crate::helpers::skipped("payments_requests_pass_the_bot_api_spec", "PRISM_URL");
        return;
    };
    let admin = ADMIN.to_string();
    let mocks = crate::helpers::Mocks::start().await;
    mocks.wikipedia.serve_places("en").await;
    let (proxy, refused) = camel_case_proxy(prism);
    let app = mocks
        .spawn(&[("TELEGRAM_API_URL", &proxy), ("ADMIN_USER_IDS", &admin)])
        .await;
    let user = 5501;
    let checks = [
        text_update(1, user, "en", "/donate"),
        button_update(2, user, "donate:250"),
        pre_checkout(
            3,
            user,
            "d1.5501.250.00000000000000ff.00000000000000000000000000000000",
            250,
        ),
        payment(4, user, "stx-prism", 250, "d1.x"),
        text_update(5, ADMIN, "en", "/refund stx-prism"),
        text_update(6, user, "en", "/paysupport"),
    ];
    for update in &checks {
        app.post_update(update).await;
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }

    let refused = refused.lock().unwrap().clone();
    assert!(refused.is_empty(), "requests the spec refuses: {refused:?}");
}

/// teloxide calls `/bot<token>/SendInvoice`; the spec's paths are `sendInvoice`. A proxy on
/// 127.0.0.1 that lowers the method's first letter and passes everything else through.
fn camel_case_proxy(target: String) -> (String, Refused) {
    use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
    async fn forward(
        request: HttpRequest,
        body: web::Bytes,
        target: web::Data<(String, Refused)>,
    ) -> HttpResponse {
        let (target, refused) = target.get_ref();
        let path = request.path();
        let (head, method) = path.rsplit_once('/').unwrap();
        let mut chars = method.chars();
        let first = chars
            .next()
            .map(|c| c.to_ascii_lowercase())
            .unwrap_or_default();
        let method = format!("{first}{}", chars.as_str());
        // Start-up calls are not what is checked here; Prism's made-up answers to them do not
        // parse. Answered as Telegram would for a fresh bot.
        match method.as_str() {
            "getWebhookInfo" => {
                let info = r#"{"ok":true,"result":{"url":"","has_custom_certificate":false,"pending_update_count":0}}"#;
                return HttpResponse::Ok()
                    .content_type("application/json")
                    .body(info);
            }
            "setWebhook" => {
                return HttpResponse::Ok()
                    .content_type("application/json")
                    .body(r#"{"ok":true,"result":true}"#);
            }
            _ => {}
        }
        let url = format!("{target}{head}/{method}");
        let content_type = request
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .unwrap_or("application/json")
            .to_owned();
        // A call without parameters (getMe) comes with `{}`; the spec allows it no body.
        let mut forwarded = reqwest::Client::new().post(url);
        if body.as_ref() != b"{}" {
            forwarded = forwarded
                .header("content-type", content_type)
                .body(body.to_vec());
        }
        let answer = forwarded.send().await.unwrap();
        let status = answer.status().as_u16();
        let body = answer.bytes().await.unwrap();
        if status >= 400 {
            let answer = String::from_utf8_lossy(&body);
            refused
                .lock()
                .unwrap()
                .push(format!("{method}: {status} {answer}"));
        }
        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
            .content_type("application/json")
            .body(body.to_vec())
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let refused = Refused::default();
    let target = web::Data::new((target, std::sync::Arc::clone(&refused)));
    let server = HttpServer::new(move || {
        App::new()
            .app_data(target.clone())
            .default_service(web::to(forward))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    (format!("http://127.0.0.1:{port}"), refused)
}

/// The calls the spec-driven mock refused, with its answers.
type Refused = std::sync::Arc<std::sync::Mutex<Vec<String>>>;
