//! Start-up conversation with Telegram: build the client, learn who we are, publish the
//! command menu in both languages, and point Telegram at our webhook (or clear it for polling).

use std::time::Duration;

use secrecy::ExposeSecret;
use teloxide::{
    Bot, RequestError,
    payloads::{SetMyCommandsSetters, SetWebhookSetters},
    prelude::Requester,
    requests::Request,
    types::{AllowedUpdate, BotCommand, WebhookInfo},
};
use url::Url;

use crate::{config::Settings, i18n::Lang};

/// The updates the bot asks Telegram for, in webhook and polling mode alike.
pub const ALLOWED_UPDATES: [AllowedUpdate; 5] = [
    AllowedUpdate::Message,
    AllowedUpdate::EditedMessage,
    AllowedUpdate::CallbackQuery,
    AllowedUpdate::PreCheckoutQuery,
    AllowedUpdate::MyChatMember,
];

/// How long one Bot API call may take (a long poll adds its own timeout on top).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// How long connecting to the Bot API may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Builds the Bot API client from settings.
pub fn build_bot(settings: &Settings) -> Result<Bot, RequestError> {
    let client = teloxide::net::default_reqwest_settings()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(|error| RequestError::Network(std::sync::Arc::new(error)))?;
    let token = settings.telegram_token.expose_secret();
    Ok(Bot::with_client(token, client).set_api_url(settings.telegram_api_url.clone()))
}

/// Publishes the command menu (`/start` … `/reset`, `/stop`) with English (default) and Russian
/// descriptions.
pub async fn publish_commands(bot: &Bot) -> Result<(), RequestError> {
    for lang in Lang::ALL {
        let texts = &lang.texts().command_descriptions;
        let commands = [
            BotCommand::new("start", texts.start),
            BotCommand::new("help", texts.help),
            BotCommand::new("language", texts.language),
            BotCommand::new("settings", texts.settings),
            BotCommand::new("stats", texts.stats),
            BotCommand::new("reset", texts.reset),
            BotCommand::new("stop", texts.stop),
            BotCommand::new("donate", texts.donate),
            BotCommand::new("paysupport", texts.paysupport),
        ];
        let request = bot.set_my_commands(commands);
        match lang {
            Lang::En => request.send().await?,
            _ => request.language_code(lang.code()).send().await?,
        };
    }
    Ok(())
}

/// The URL Telegram should POST updates to.
pub fn webhook_endpoint(base: &Url) -> Result<Url, url::ParseError> {
    Url::parse(&format!("{}/webhook", base.as_str().trim_end_matches('/')))
}

/// Calls `setWebhook` only when Telegram's current registration differs from ours.
///
/// Telegram never reveals the secret it holds, so a changed `WEBHOOK_SECRET` is recognised by
/// the 401s Telegram reports in `last_error_message`.
pub async fn ensure_webhook(bot: &Bot, endpoint: Url, secret: &str) -> Result<(), RequestError> {
    let info = bot.get_webhook_info().await?;
    if webhook_is_current(&info, &endpoint) {
        tracing::info!(%endpoint, "webhook already registered");
        return Ok(());
    }
    bot.set_webhook(endpoint.clone())
        .secret_token(secret)
        .allowed_updates(ALLOWED_UPDATES)
        .await?;
    tracing::info!(%endpoint, "webhook registered");
    Ok(())
}

fn webhook_is_current(info: &WebhookInfo, endpoint: &Url) -> bool {
    let same_updates = info.allowed_updates.as_ref().is_some_and(|updates| {
        updates.len() == ALLOWED_UPDATES.len()
            && ALLOWED_UPDATES
                .iter()
                .all(|update| updates.contains(update))
    });
    let secret_rejected = info
        .last_error_message
        .as_deref()
        .is_some_and(|message| message.contains("401"));
    info.url.as_ref() == Some(endpoint) && same_updates && !secret_rejected
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_appends_webhook_to_any_base() {
        for base in [
            "https://x.example",
            "https://x.example/",
            "https://x.example/bot/",
        ] {
            let endpoint = webhook_endpoint(&Url::parse(base).unwrap()).unwrap();
            assert!(endpoint.as_str().ends_with("/webhook"), "{endpoint}");
            assert!(!endpoint.as_str().contains("//webhook"), "{endpoint}");
        }
    }
}
